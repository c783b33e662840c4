"""Stream a WebVid CSV row by row: good rows as ``WebVidRow``, broken ones as counted ``CsvSkip`` (never a crash).

The real header is ``videoid,name,page_idx,page_dir,duration,contentUrl``; ``name`` is the caption and
``duration`` is ISO-8601 (``PT00H00M17S``). Only ``videoid`` and ``name`` are required; ``page_dir`` is needed by
the ``{page_dir}/{videoid}.mp4`` layout and ``contentUrl`` to match video2dataset shards that lack a videoid.
An unterminated quote costs its own row only (the lines after it are read again as rows); a duplicated column is
an error; control characters and chat markup (data/caption_text.py) in a row are counted skips of their own.
"""

import csv
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from data.caption_text import chat_markup, normalise_whitespace

REQUIRED_COLUMNS = ("videoid", "name")
OPTIONAL_COLUMNS = ("page_idx", "page_dir", "duration", "contentUrl")
WEBVID_HEADER = "videoid,name,page_idx,page_dir,duration,contentUrl"
MAX_FIELD_CHARS = 20_000  # a caption is ~15 words; a longer field is an unterminated quote eating rows
MAX_RECORD_LINES = 8  # a caption may hold a few line breaks; a record running longer is an unterminated quote
MALFORMED_ROW = "malformed_row"
CONTROL_CHAR = "control_char"
CHAT_MARKUP = "chat_markup"

_ISO8601_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNDECODABLE_BYTE = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" turns non-UTF-8 bytes into
_CONTROL_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # Unicode Cc but tab, newline, CR


class BadHeaderError(ValueError):
    """The CSV header cannot be read as WebVid columns."""


class MissingColumnsError(BadHeaderError):
    """The CSV header lacks columns the converter needs."""


class DuplicateColumnError(BadHeaderError):
    """A column the converter reads appears more than once in the header."""


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


def _lines(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}-{end}"


def _printable(text: str) -> str:
    """``text`` safe to write to skipped.csv: non-UTF-8 bytes and control characters as backslash escapes."""
    text = text.encode("utf-8", "backslashreplace").decode()
    return _CONTROL_CHAR.sub(lambda match: f"\\x{ord(match[0]):02x}", text)


def _control_char(joined: str, fields: list[str], column_index: dict[str, int]) -> str | None:
    """Which column holds a control character (other than tab and line breaks), or None."""
    if not _CONTROL_CHAR.search(joined):
        return None
    names = {i: name for name, i in column_index.items()}
    for i, field in enumerate(fields):
        match = _CONTROL_CHAR.search(field)
        if match:
            return f"control character U+{ord(match[0]):04X} in column {names.get(i, i + 1)} (refused, not cleaned)"
    return None


def _row_from_fields(line: int, fields: list[str], column_index: dict[str, int], width: int) -> WebVidRow | CsvSkip:
    """Validate one parsed record; the pure core of the reader."""
    videoid = fields[column_index["videoid"]].strip() if len(fields) > column_index["videoid"] else ""
    if len(fields) != width:
        return CsvSkip(line, _printable(videoid), MALFORMED_ROW, f"expected {width} fields, got {len(fields)}")
    joined = "".join(fields)
    if _UNDECODABLE_BYTE.search(joined):
        return CsvSkip(line, _printable(videoid), MALFORMED_ROW, "not valid UTF-8")
    control = _control_char(joined, fields, column_index)
    if control is not None:
        return CsvSkip(line, _printable(videoid), CONTROL_CHAR, control)
    if not videoid:
        return CsvSkip(line, videoid, MALFORMED_ROW, "empty videoid")
    caption = normalise_whitespace(fields[column_index["name"]])
    if not caption:
        return CsvSkip(line, videoid, MALFORMED_ROW, "empty caption")
    markup = chat_markup(caption)
    if markup is not None:
        return CsvSkip(line, videoid, CHAT_MARKUP, f"caption holds a {markup}")

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


class _RecordTooLong(Exception):
    """One record asked for more than MAX_RECORD_LINES physical lines."""


class _Lines:
    """The file's physical lines for csv.reader, numbered; the lines of a broken record can be read again."""

    def __init__(self, file):
        self._file = file
        self._count = 0
        self._again: list[tuple[int, str]] = []  # a stack: the next line to hand out is the last
        self.record: list[tuple[int, str]] = []  # (line number, text) handed out for the record being parsed

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if len(self.record) == MAX_RECORD_LINES:
            raise _RecordTooLong(f"a quoted field runs past {MAX_RECORD_LINES} lines")
        if self._again:
            numbered = self._again.pop()
        else:
            text = next(self._file)
            self._count += 1
            numbered = (self._count, text)
        self.record.append(numbered)
        return numbered[1]

    def read_again(self, numbered: list[tuple[int, str]]) -> None:
        self._again.extend(reversed(numbered))


def _parse_alone(text: str) -> list[str]:
    """One physical line parsed on its own (lenient), for diagnosing a broken record."""
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return []


def _broken_multiline(record: list[tuple[int, str]], fields: list[str], error: str | None, width: int) -> str | None:
    """Why a record spanning several lines is an unterminated quote rather than a caption with line breaks."""
    if error is not None:
        return error
    if len(fields) != width:
        return f"{len(fields)} fields, expected {width}"
    for number, text in record[1:]:
        if len(_parse_alone(text)) == width:
            return f"line {number} inside it reads as a row of its own"
    return None


def _read_header(path: Path, reader) -> list[str]:
    try:
        header = next(reader, None)
    except (csv.Error, _RecordTooLong) as error:
        raise BadHeaderError(
            f"{path}: line 1: the header is not valid CSV ({error}); a WebVid CSV has the header {WEBVID_HEADER}"
        ) from None
    if header is None:
        raise MissingColumnsError(f"{path}: empty file; a WebVid CSV has the header {WEBVID_HEADER}")
    return [name.strip().lstrip("\ufeff") for name in header]


def _check_header(path: Path, header: list[str]) -> dict[str, int]:
    """Column name -> index. Raises MissingColumnsError / DuplicateColumnError naming the file and the columns."""
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise MissingColumnsError(
            f"{path}: missing required column(s) {', '.join(missing)}; found {', '.join(header)}. "
            f"A WebVid CSV has the header {WEBVID_HEADER}"
        )
    for column in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        if header.count(column) > 1:
            raise DuplicateColumnError(
                f"{path}: column '{column}' appears {header.count(column)} times in the header "
                f"({', '.join(header)}), so which one holds the data is ambiguous. Rename or remove the extra one; "
                f"a WebVid CSV has the header {WEBVID_HEADER}"
            )
    return {name: i for i, name in reversed(list(enumerate(header)))}  # an unused column named twice: first wins


def read_header(path: Path) -> dict[str, int]:
    """Validate ``path``'s header without reading further (fail before writing any output)."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        return _check_header(path, _read_header(path, csv.reader(_Lines(f), strict=True)))


def read_webvid_csv(path: Path) -> Iterator[WebVidRow | CsvSkip]:
    """Yield every data record of ``path`` as a WebVidRow or a CsvSkip, streaming (constant memory).

    Every physical line ends up in exactly one yielded item (blank lines in none), so counting the items counts
    the file's records. A record spanning several lines is a caption with line breaks only if it parses into the
    header's width, within MAX_RECORD_LINES lines, and no line inside it reads as a row of its own; otherwise its
    quote is unterminated: its first line is a malformed_row skip and the lines after it are read again as rows.
    Raises BadHeaderError (MissingColumnsError, DuplicateColumnError) naming the file and the columns.
    """
    csv.field_size_limit(MAX_FIELD_CHARS)
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        lines = _Lines(f)
        reader = csv.reader(lines, strict=True)
        header = _read_header(path, reader)
        column_index = _check_header(path, header)
        width = len(header)
        while True:
            lines.record = []
            try:
                fields, error = next(reader), None
            except StopIteration:
                return
            except (csv.Error, _RecordTooLong) as raised:
                fields, error = [], str(raised)
            record = lines.record
            start, end = record[0][0], record[-1][0]
            why = _broken_multiline(record, fields, error, width) if start != end else None
            if why is not None:
                lines.read_again(record[1:])
                first_line = _parse_alone(record[0][1])
                videoid = first_line[column_index["videoid"]] if len(first_line) > column_index["videoid"] else ""
                yield CsvSkip(
                    start,
                    _printable(videoid.strip()),
                    MALFORMED_ROW,
                    f"{_lines(start, end)}: unterminated quote: the quoted field opened on line {start} "
                    f"does not close properly ({why}); lines {start + 1}-{end} are read again as rows",
                )
            elif error is not None:
                yield CsvSkip(start, "", MALFORMED_ROW, f"line {start}: {error}")
            elif fields:  # a blank line is not a row
                yield _row_from_fields(start, fields, column_index, width)
