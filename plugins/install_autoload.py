"""Install the .pth that gives `llamafactory-cli` in a venv our templates (plugins/autoload.py); `make setup` runs it.

    .venv/bin/python -m plugins.install_autoload      # into that interpreter's site-packages; idempotent

The file (PTH_NAME) holds one line that installs a finder which, once LLaMA-Factory's registries are imported, runs
this checkout's plugins/autoload.py by its absolute path; it adds nothing to sys.path. Running this again from the
same checkout leaves the file untouched; from another checkout (or after moving this one) it points the venv there.
A .pth whose target file is gone does nothing (llamafactory-cli then reports "Template ..._exact does not exist"
until this is run again).
"""

import argparse
import sysconfig
from pathlib import Path

from data.publish import write_text_atomic

PTH_NAME = "llamafactory_exact_templates.pth"
HOOK_CLASS = "LlamaFactoryExactTemplates"
TRIGGER = "llamafactory.data"  # holds LLaMA-Factory's template and mm plugin registries, filled as it is imported
AUTOLOAD = Path(__file__).resolve().with_name("autoload.py")


def pth_line(autoload: Path = AUTOLOAD) -> str:
    """The .pth line: put a finder (class HOOK_CLASS) at the front of sys.meta_path whose find_spec returns None for
    every module but TRIGGER; for that one it runs ``autoload`` (then, not at start-up) and hands over to its
    find_spec_after. Nothing happens when the file is gone. A start-up pays for compiling this line and creating one
    class: loading even a small module here cost every Python start about a millisecond (bench/bench_autoload.py)."""
    path = str(autoload)
    runs_autoload = (
        "(lambda ns: (exec(compile(open(ns['__file__'], 'rb').read(), ns['__file__'], 'exec'), ns), "
        "ns['find_spec_after'](self, name, path, target))[1])"
        f"({{'__name__': 'llamafactory_exact_autoload', '__file__': {path!r}}})"
    )
    find_spec = (
        f"lambda self, name, path=None, target=None: None if name != {TRIGGER!r} or not "
        f"__import__('os').path.isfile({path!r}) else {runs_autoload}"
    )
    installed = f"any(type(finder).__name__ == {HOOK_CLASS!r} for finder in sys.meta_path)"  # lib64 -> lib: read twice
    hook = f"type({HOOK_CLASS!r}, (), {{'find_spec': {find_spec}}})()"
    return f"import sys; {installed} or sys.meta_path.insert(0, {hook})\n"


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
