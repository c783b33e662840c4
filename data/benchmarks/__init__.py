"""Standard video-captioning benchmarks' annotation files, each read into the same clip records.

Each parser (msrvtt.py, msvd.py, vatex.py, youcook2.py) streams its file as ``AnnotatedClip`` (one clip, the file
stems its clip may have, every caption with the line or record number it came from, and for a segment of a longer
video its span) or ``AnnotationSkip`` (a line or record that cannot be used). ``screen_references`` then applies
the rules shared by all formats: every caption becomes one line (whitespace runs -> one space, as for WebVid);
captions holding chat markup (data/caption_text.py) or nothing at all leave the
reference list and are counted; a clip left without any reference, or whose id came earlier, is skipped.
``python -m data.convert_benchmark`` writes what remains.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from data.caption_text import chat_markup, normalise_whitespace
from video.clip_span import ClipSpan

NO_CAPTIONS = "no_captions"
DUPLICATE_ID = "duplicate_id"
BAD_SPAN = "bad_span"  # a segment's [start, end] is not a span of its video (video.errors' code for the same)
MALFORMED_ROW = "malformed_row"
CHAT_MARKUP = "chat_markup"
EMPTY_CAPTION = "empty_caption"


@dataclass(frozen=True)
class AnnotatedClip:
    """One clip of the annotation file. ``line``: where it is defined (a text line, or a JSON record number);
    ``stems``: the clip's possible file names without extension, tried in order; ``captions``: (line, text)."""

    line: int
    clip_id: str
    stems: tuple[str, ...]
    captions: tuple[tuple[int, str], ...]
    span: ClipSpan | None = None  # a segment of a longer video (YouCook2): the clip is this span of the file


@dataclass(frozen=True)
class AnnotationSkip:
    """A clip (or a line) that cannot be used, with where it is and why (a SKIP_REASONS code)."""

    line: int
    clip_id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class DroppedReference:
    """A caption left out of its clip's reference list (the clip itself may still be kept)."""

    line: int
    clip_id: str
    reason: str  # CHAT_MARKUP, EMPTY_CAPTION or MALFORMED_ROW (a caption entry the parser could not read)
    detail: str


@dataclass(frozen=True)
class ScreenedClip:
    """A clip with at least one usable reference, in annotation order (the first becomes the assistant turn)."""

    line: int
    clip_id: str
    stems: tuple[str, ...]
    references: tuple[str, ...]
    span: ClipSpan | None = None


def _usable(clip: AnnotatedClip, dropped: list[DroppedReference]) -> list[str]:
    references = []
    for line, caption in clip.captions:
        text = normalise_whitespace(caption)
        problem = chat_markup(text) if text else "empty or whitespace only"
        if problem is None:
            references.append(text)
        else:
            reason = CHAT_MARKUP if text else EMPTY_CAPTION
            dropped.append(DroppedReference(line, clip.clip_id, reason, f"{problem}: {text[:200]!r}"))
    return references


def screen_references(
    items: Iterable[AnnotatedClip | AnnotationSkip | DroppedReference],
) -> Iterator[ScreenedClip | AnnotationSkip | DroppedReference]:
    """Apply the shared caption and id rules to a parser's output (first clip of an id wins)."""
    seen: dict[str, int] = {}
    for item in items:
        if isinstance(item, (AnnotationSkip, DroppedReference)):
            yield item
            continue
        if item.clip_id in seen:
            yield AnnotationSkip(item.line, item.clip_id, DUPLICATE_ID, f"first defined at {seen[item.clip_id]}")
            continue
        seen[item.clip_id] = item.line
        dropped: list[DroppedReference] = []
        references = _usable(item, dropped)
        yield from dropped
        if references:
            yield ScreenedClip(item.line, item.clip_id, item.stems, tuple(references), item.span)
        elif item.captions:
            yield AnnotationSkip(
                item.line, item.clip_id, NO_CAPTIONS, f"all {len(item.captions)} captions dropped (see dropped)"
            )
        else:
            yield AnnotationSkip(item.line, item.clip_id, NO_CAPTIONS, "the annotations give no caption")
