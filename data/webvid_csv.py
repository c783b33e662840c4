"""Stream a WebVid CSV row by row: good rows as ``WebVidRow``, broken ones as counted ``CsvSkip`` (never a crash).

The real header is ``videoid,name,page_idx,page_dir,duration,contentUrl``; ``name`` is the caption and
``duration`` is ISO-8601 (``PT00H00M17S``). Only ``videoid`` and ``name`` are required; ``page_dir`` is needed by
the ``{page_dir}/{videoid}.mp4`` layout and ``contentUrl`` to match video2dataset shards that lack a videoid.
"""

import csv
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REQUIRED_COLUMNS = ("videoid", "name")
OPTIONAL_COLUMNS = ("page_idx", "page_dir", "duration", "contentUrl")
WEBVID_HEADER = "videoid,name,page_idx,page_dir,duration,contentUrl"
MAX_FIELD_CHARS = 20_000  # a caption is ~15 words; a longer field is an unterminated quote eating rows
MALFORMED_ROW = "malformed_row"

_ISO8601_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNDECODABLE_BYTE = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" turns non-UTF-8 bytes into


class MissingColumnsError(ValueError):
    """The CSV header lacks columns the converter needs."""


@dataclass(frozen=True)
class WebVidRow:
    """One usable CSV row. ``line`` is the physical line where the record starts (1 = header)."""

    line: int
    videoid: str
    caption: str
    page_dir: str | None
    duration_s: float | None
    content_url: str | None


@dataclass(frozen=True)
class CsvSkip:
    """A row that could not be used, with the line it starts on and why."""

    line: int
    videoid: str
    reason: str
    detail: str


@functools.lru_cache(maxsize=65536)  # a few thousand distinct values over millions of rows
def parse_iso8601_duration(text: str) -> float:
    """Seconds in an ISO-8601 duration such as ``PT00H00M17S`` or ``PT1M2.5S``. Raises ValueError otherwise."""
    match = _ISO8601_DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    return parts["days"] * 86400 + parts["hours"] * 3600 + parts["minutes"] * 60 + parts["seconds"]


def normalise_whitespace(text: str) -> str:
    """Collapse runs of whitespace (newlines, tabs, non-breaking spaces) to one space; keep every other character."""
    return " ".join(text.split())


def _lines(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}-{end}"


def _row_from_fields(line: int, fields: list[str], column_index: dict[str, int], width: int) -> WebVidRow | CsvSkip:
    """Validate one parsed record; the pure core of the reader."""
    videoid = fields[column_index["videoid"]].strip() if len(fields) > column_index["videoid"] else ""
    if len(fields) != width:
        return CsvSkip(line, videoid, MALFORMED_ROW, f"expected {width} fields, got {len(fields)}")
    if _UNDECODABLE_BYTE.search("".join(fields)):
        return CsvSkip(line, videoid.encode("utf-8", "backslashreplace").decode(), MALFORMED_ROW, "not valid UTF-8")
    if not videoid:
        return CsvSkip(line, videoid, MALFORMED_ROW, "empty videoid")
    caption = normalise_whitespace(fields[column_index["name"]])
    if not caption:
        return CsvSkip(line, videoid, MALFORMED_ROW, "empty caption")

    def optional(column: str) -> str | None:
        value = fields[column_index[column]].strip() if column in column_index else ""
        return value or None

    duration_text = optional("duration")
    duration_s = None
    if duration_text is not None:
        try:
            duration_s = parse_iso8601_duration(duration_text)
        except ValueError as error:
            return CsvSkip(line, videoid, MALFORMED_ROW, str(error))
    return WebVidRow(line, videoid, caption, optional("page_dir"), duration_s, optional("contentUrl"))


def _check_header(path: Path, header: list[str] | None) -> dict[str, int]:
    """Column name -> index. Raises MissingColumnsError naming the file and the missing columns."""
    if header is None:
        raise MissingColumnsError(f"{path}: empty file; a WebVid CSV has the header {WEBVID_HEADER}")
    header = [name.strip().lstrip("\ufeff") for name in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise MissingColumnsError(
            f"{path}: missing required column(s) {', '.join(missing)}; found {', '.join(header)}. "
            f"A WebVid CSV has the header {WEBVID_HEADER}"
        )
    return {name: i for i, name in enumerate(header)}


def read_header(path: Path) -> dict[str, int]:
    """Validate ``path``'s header without reading further (fail before writing any output)."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        return _check_header(path, next(csv.reader(f), None))


def read_webvid_csv(path: Path) -> Iterator[WebVidRow | CsvSkip]:
    """Yield every data row of ``path`` as a WebVidRow or a CsvSkip, streaming (constant memory).

    Raises MissingColumnsError (naming the columns and the file) if the header lacks a required column.
    """
    csv.field_size_limit(MAX_FIELD_CHARS)
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        reader = csv.reader(f, strict=True)
        column_index = _check_header(path, next(reader, None))
        width = len(column_index)
        last_line = reader.line_num
        while True:
            start = last_line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield CsvSkip(start, "", MALFORMED_ROW, f"{_lines(start, reader.line_num)}: {error}")
                last_line = reader.line_num
                continue
            last_line = reader.line_num
            if not fields:  # a blank line is not a row
                continue
            yield _row_from_fields(start, fields, column_index, width)
