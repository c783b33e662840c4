"""A throw-away venv that sees the project venv's packages, for tests of what `make setup` installs into a venv.

The tests must not write into the project's (shared) venv, so the start-up hook is installed into one of these
instead, by the same installer `make setup` runs. Its site-packages holds a .pth whose one line is the project
venv's site-packages folder (a path line: added to sys.path, its own .pth files not run), so the hook is present
exactly when the test installed it, whatever the project venv holds.
"""

import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.training_fixtures import REPO_ROOT

CONSOLE_SCRIPTS = ("llamafactory-cli", "torchrun")  # run with this venv's interpreter, as the real ones would


def make_overlay_venv(directory: Path, with_hook: bool) -> Path:
    """A venv in ``directory`` over the project venv's packages; with ``with_hook`` the start-up hook is installed
    (``python -m plugins.install_autoload``, as `make setup` does). Returns its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    bin_dir = directory / "bin"
    python = bin_dir / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # read first (site takes .pth files in name order), so other .pth lines may import from the project venv
    (Path(site_packages) / "00_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for name in CONSOLE_SCRIPTS:
        body = (Path(sys.executable).parent / name).read_text().split("\n", 1)[1]
        script = bin_dir / name
        script.write_text(f"#!{python}\n{body}")
        script.chmod(0o755)
    if with_hook:
        subprocess.run([str(python), "-m", "plugins.install_autoload"], cwd=REPO_ROOT, check=True,
                       capture_output=True)  # fmt: skip
    return bin_dir
