"""A folder made read-only for real, for tests of a store on a read-only mount.

    with read_only(tmp_path / "frames"):
        ...   # writes under it fail with EROFS (root: a read-only bind mount) or EACCES (others: chmod)

As root, chmod stops no write, so the folder is bind-mounted onto itself read-only (needs CAP_SYS_ADMIN, as in a
container run as root); where neither works the test is skipped, saying why.
"""

import contextlib
import os
import stat
import subprocess
from pathlib import Path

import pytest


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def read_only(folder: Path):
    folder = Path(folder)
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")] if path.is_dir()}
        for path, mode in modes.items():
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    if not _mount("--bind", str(folder), str(folder)):
        pytest.skip("running as root without the right to mount: no read-only folder to test with")
    try:
        if not _mount("-o", "remount,bind,ro", str(folder)):
            pytest.skip("running as root without the right to remount read-only")
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)
