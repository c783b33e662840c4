"""MSVD (Microsoft Research Video Description Corpus): ``AllVideoDescriptions.txt`` or the original multilingual CSV.

``AllVideoDescriptions.txt`` (English only): ``#`` comment lines, then one caption per line, ``VIDEONAME caption``
(``-4wsuPCjDBc_5_15 a squirrel is eating a peanut``: YouTube id, start and end second), about 40 per clip; clips
are ``{VIDEONAME}.avi`` (YouTubeClips.tar). The original ``MSR Video Description Corpus.csv`` has the columns
``VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description`` in many languages: only ``English``
rows are read, as captions of ``{VideoID}_{Start}_{End}``.

``youtube_mapping.txt`` (``VIDEONAME vidN`` per line) defines the standard split by N: 1-1200 train, 1201-1300
val, 1301-1970 test; with it, a clip may also be named ``vidN.avi``. Without it only ``--split all`` exists.
"""

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from data.benchmarks import MALFORMED_ROW, AnnotatedClip, AnnotationSkip, DroppedReference

NOT_IN_MAPPING = "not_in_mapping"
SPLIT_RANGES = {"train": range(1, 1201), "val": range(1201, 1301), "test": range(1301, 1971), "all": None}
_VID = re.compile(r"vid(\d+)")


def read_mapping(path: Path) -> dict[str, str]:
    """VIDEONAME -> vidN from ``youtube_mapping.txt``; raises ValueError naming the first bad line."""
    mapping: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not _VID.fullmatch(fields[1]) or fields[0] in mapping:
                raise ValueError(f"{path} line {number}: expected 'VIDEONAME vidN' once per clip, got {line!r}")
            mapping[fields[0]] = fields[1]
    return mapping


def _text_captions(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, VIDEONAME, caption or None for a line without one) from AllVideoDescriptions.txt."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                yield number, raw.decode("utf-8", "replace").split(" ", 1)[0], None
                continue
            if not line or line.startswith("#"):
                continue
            name, _, caption = line.partition(" ")
            yield number, name, caption.strip() or None


def _csv_captions(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, VIDEONAME, caption) of the English rows of the original multilingual CSV."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"VideoID", "Start", "End", "Language", "Description"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} lacks the MSVD CSV columns {sorted(missing)}")
        for row in reader:
            if row["Language"] == "English":
                name = f"{row['VideoID']}_{row['Start']}_{row['End']}"
                yield reader.line_num, name, (row["Description"] or "").strip() or None


def read_msvd(
    path: Path, split: str, mapping: dict[str, str] | None
) -> Iterator[AnnotatedClip | AnnotationSkip | DroppedReference]:
    """The clips of ``split`` in order of first appearance, each with all its English captions."""
    if mapping is None and split != "all":
        raise ValueError(
            f"MSVD's {split} split is defined by youtube_mapping.txt (vid1-1200 train, 1201-1300 val, 1301-1970 "
            "test): pass --mapping youtube_mapping.txt, or --split all"
        )
    lines = _csv_captions(path) if Path(path).suffix.lower() == ".csv" else _text_captions(path)
    first_line: dict[str, int] = {}
    captions: dict[str, list[tuple[int, str]]] = {}
    broken: dict[str, list[DroppedReference]] = {}
    for number, name, caption in lines:
        first_line.setdefault(name, number)
        captions.setdefault(name, [])
        if caption is None:
            broken.setdefault(name, []).append(
                DroppedReference(number, name, MALFORMED_ROW, "no caption after the name, or not UTF-8")
            )
        else:
            captions[name].append((number, caption))
    wanted = SPLIT_RANGES[split]
    for name, number in first_line.items():
        vid = mapping.get(name) if mapping is not None else None
        if mapping is not None and vid is None:
            yield AnnotationSkip(number, name, NOT_IN_MAPPING, "its split and clip name are unknown")
            continue
        if wanted is not None and int(vid[3:]) not in wanted:
            continue
        yield from broken.get(name, ())
        yield AnnotatedClip(number, name, (vid, name) if vid else (name,), tuple(captions[name]))
