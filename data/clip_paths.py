"""What every clip layout shares: ids that must stay plain file names, and lookups that fail with a named reason.

A lookup error carries the skip reason the converter counts it under (``ClipLookupError.reason``): an id that could
leave the video folder, a path the filesystem refuses (name too long, permission denied, I/O error), or a
video2dataset url/videoid that names several clips.
"""

import errno
import os
from stat import S_ISREG

NOT_THERE = (errno.ENOENT, errno.ENOTDIR)  # the only stat errors that mean "no such clip"


class ClipLookupError(ValueError):
    """A row whose clip cannot be looked up; ``reason`` is the skip reason it is counted under."""

    reason = "missing"


class PathEscapeError(ClipLookupError):
    """A videoid or page_dir that is not one plain path component."""

    reason = "path_escape"


class UnreadablePathError(ClipLookupError):
    """The filesystem refused to look at a clip's path (not: the clip is not there)."""

    reason = "unreadable"


class AmbiguousClipError(ClipLookupError):
    """A videoid or url that several clips share (video2dataset clipping): picking one would mis-caption it."""

    reason = "ambiguous_clip"


def check_path_component(value: str, field: str) -> str:
    """``value`` if it is one plain file name component; raises PathEscapeError otherwise."""
    if (
        not value
        or value in (".", "..")
        or "/" in value
        or "\\" in value
        or "\0" in value
        or value[1:2] == ":"  # a Windows drive
    ):
        raise PathEscapeError(f"{field} {value!r} is not a plain file name and could escape the video directory")
    return value


def stat_file(path: str) -> os.stat_result | None:
    """``os.stat(path)`` of a regular file; None if nothing is there. Raises UnreadablePathError on any other error."""
    try:
        stat = os.stat(path)
    except OSError as error:
        if error.errno in NOT_THERE:
            return None
        raise UnreadablePathError(f"cannot look at {path}: {error.strerror or error}") from None
    return stat if S_ISREG(stat.st_mode) else None
