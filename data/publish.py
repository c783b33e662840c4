"""Publish a run's output files together, and only when the run completed.

A run writes every output into a private staging folder inside the output folder (``OUT/.incomplete-<pid>-…/``).
Only when all of them are written does ``publish`` fsync each file and rename it into ``OUT`` (renames within one
file system are atomic), then fsync ``OUT``. A run that fails, is interrupted (Ctrl-C) or is killed never renames
anything: the previous outputs stay exactly as they were, and the staging folder of a killed run is removed by the
next run. The renames themselves happen after all the slow work, in one quick pass, so the outputs change together.

    with StagedOutputs(out_dir) as staged:
        write(staged.path("webvid_train.json"))
        ...
        staged.publish()          # leaving the block without publishing discards everything
"""

import os
import shutil
import tempfile
from pathlib import Path

STAGING_PREFIX = ".incomplete-"


def fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    """Make renames into ``path`` durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_abandoned_staging(out_dir: Path) -> list[Path]:
    """Delete staging folders left in ``out_dir`` by runs that were killed (their process is gone)."""
    removed = []
    for folder in Path(out_dir).glob(STAGING_PREFIX + "*"):
        pid_text = folder.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if folder.is_dir() and pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file + fsync + rename: readers see the old or the new file, never half."""
    path = Path(path)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.replace(f.name, path)
    except BaseException:
        os.unlink(f.name)
        raise
    fsync_dir(path.parent)


class StagedOutputs:
    """Output files staged in a private folder of ``out_dir``, renamed into ``out_dir`` together by ``publish``."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        remove_abandoned_staging(self.out_dir)
        self.dir = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=self.out_dir))
        self.published: list[Path] = []

    def path(self, name: str) -> Path:
        """Where to write the output that will be published as ``out_dir/name``."""
        return self.dir / name

    def publish(self) -> list[Path]:
        """fsync every staged file, rename each into ``out_dir``, fsync ``out_dir``; returns the published paths."""
        staged = sorted(self.dir.iterdir())
        for path in staged:
            fsync_file(path)
        for path in staged:
            target = self.out_dir / path.name
            os.replace(path, target)
            self.published.append(target)
        fsync_dir(self.out_dir)
        self.discard()
        return self.published

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "StagedOutputs":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()  # after publish() the folder is already gone; otherwise nothing of this run is kept
