"""Install the .pth that gives `llamafactory-cli` in a venv our templates (plugins/autoload.py); `make setup` runs it.

    .venv/bin/python -m plugins.install_autoload      # into that interpreter's site-packages; idempotent

The file (PTH_NAME) holds one line that runs this checkout's plugins/autoload.py by its absolute path and calls its
``install()``; it adds nothing to sys.path. Running this again from the same checkout leaves the file untouched;
from another checkout (or after moving this one) it points the venv there. A .pth whose target file is gone does
nothing (llamafactory-cli then reports "Template ..._exact does not exist" until this is run again).
"""

import argparse
import sysconfig
from pathlib import Path

from data.publish import write_text_atomic

PTH_NAME = "llamafactory_exact_templates.pth"
AUTOLOAD = Path(__file__).resolve().with_name("autoload.py")


def pth_line(autoload: Path = AUTOLOAD) -> str:
    """The .pth line: load ``autoload`` as a module (from its cached bytecode, as an import would) and call its
    install(); nothing when the file is gone. The loader is importlib.machinery's SourceFileLoader, taken from the
    module CPython has already loaded at start-up for its own imports (``_frozen_importlib_external``, which
    importlib.machinery re-exports): importing importlib.machinery itself measurably slowed every start-up."""
    path = str(autoload)
    return (
        "import os, sys; m = sys.modules.get('_frozen_importlib_external') or __import__('importlib.machinery')"
        f".machinery; p = {path!r}; a = type(os)('llamafactory_exact_autoload'); a.__file__ = p; "
        "os.path.isfile(p) and (m.SourceFileLoader(a.__name__, p).exec_module(a) or a.install())\n"
    )


def install(site_packages: Path) -> tuple[Path, bool]:
    """Write ``site_packages/PTH_NAME`` atomically unless it already holds this checkout's line; (path, written)."""
    if not Path(site_packages).is_dir():
        raise SystemExit(f"{site_packages} is not a folder: give the venv's site-packages (--site-packages)")
    path = Path(site_packages) / PTH_NAME
    line = pth_line()
    if path.is_file() and path.read_text(encoding="utf-8") == line:
        return path, False
    write_text_atomic(path, line)
    return path, True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--site-packages",
        type=Path,
        default=Path(sysconfig.get_paths()["purelib"]),
        help="where to write it (default: this interpreter's site-packages)",
    )
    args = parser.parse_args(argv)
    path, written = install(args.site_packages)
    print(f"{'wrote' if written else 'up to date:'} {path} -> {AUTOLOAD}")


if __name__ == "__main__":
    main()
