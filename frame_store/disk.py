"""What a store takes on disk and whether the rest of a build fits: every command that writes a store says where
and how much, and a build that cannot fit stops before it fills the disk.

    human(directory_bytes(path))                       # "1.23 GB": a store directory's files
    space = SpaceCheck(directory, stored_bytes, stored)   # in build_store: what the shards already hold
    space.add(len(entry)); space.check(remaining)         # after each batch: prints the estimate once; may raise

The estimate is bytes per clip of the entries stored so far (a resumed build's, before decoding anything) times the
clips still to decode, against the free space of the store's file system (shutil.disk_usage).
"""

import errno
import os
import shutil
from pathlib import Path

NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # disk full, quota, file-size limit (ulimit -f)
NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}  # read-only mount, permissions


def write_failure(error: OSError, directory: Path) -> str | None:
    """One sentence for a store write that failed for lack of space or permission (None: another error), naming
    the file and the fix."""
    where = error.filename or directory
    if error.errno in NO_SPACE:
        fix = ("free space there (or raise the file-size limit, ulimit -f), or set FRAME_STORE_DIR to a folder on a "
               "larger disk; what is stored is kept and a rerun resumes")  # fmt: skip
    elif error.errno in NOT_WRITABLE:
        fix = "set FRAME_STORE_DIR to a writable folder, or FRAME_STORE_DIR=off to decode clips at every step instead"
    else:
        return None
    return f"cannot write the frame store at {where} ({error.strerror}): {fix}"


class StoreFullError(Exception):
    """The rest of the build does not fit on the store's disk; says where, how much and what to do."""


def human(size: float) -> str:
    """e.g. 1.23 TB, 3.00 MB (decimal units, as disks are sold)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:.2f} {unit}"
    return f"{size / 1e3:.2f} kB"


def directory_bytes(directory: str | os.PathLike) -> int:
    """The size of the files directly in ``directory`` (a store directory has no subfolders)."""
    return sum(entry.stat().st_size for entry in os.scandir(directory) if entry.is_file(follow_symlinks=False))


def free_bytes(directory: Path) -> int | None:
    """Free bytes on ``directory``'s file system for this user, or None where it cannot be asked."""
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


class SpaceCheck:
    """Estimates the rest of a build from its stored entries and stops it when the disk cannot hold it."""

    def __init__(self, directory: Path, stored_bytes: int = 0, stored: int = 0):
        self.directory = directory
        self.stored_bytes, self.stored = stored_bytes, stored  # the entries the shards hold (a resumed build's)
        self.printed = False

    def add(self, entry_bytes: int) -> None:
        """Count one entry just written."""
        self.stored_bytes += entry_bytes
        self.stored += 1

    def check(self, remaining: int) -> None:
        """Print the estimate (once), then raise StoreFullError if ``remaining`` clips will not fit."""
        if self.stored == 0 or remaining == 0:
            return  # nothing to estimate from yet (every clip so far failed), or nothing left to estimate
        per_clip = self.stored_bytes / self.stored
        needed, free = per_clip * remaining, free_bytes(self.directory)
        if not self.printed:
            self.printed = True
            left = "unknown" if free is None else human(free)
            print(f"frame store: about {human(needed)} more for {remaining} clips ({human(per_clip)} a clip, from "
                  f"{self.stored} stored); {left} free on that disk", flush=True)  # fmt: skip
        if free is not None and needed > free:
            raise StoreFullError(
                f"{self.directory} needs about {human(needed)} more for {remaining} clips but its disk has "
                f"{human(free)} free: free space there, or set FRAME_STORE_DIR to a folder on a larger disk (or "
                "FRAME_STORE_DIR=off to decode clips at every step instead); what is stored is kept and a rerun "
                "resumes"
            )
