"""VATEX's caption JSON (``vatex_training_v1.0.json``, ``vatex_validation_v1.0.json``,
``vatex_public_test_english_v1.1.json``): a list of

    {"videoID": "Ptf_2VRj-V0_000122_000132", "enCap": [10 English captions], "chCap": [10 Chinese captions]}

``videoID`` is the YouTube id plus the clip's start and end second; clips are ``{videoID}.mp4``. Only ``enCap``
is read (the Chinese captions are not scored). Record numbers are 1-based positions in the list; a caption's
number is its record's.
"""

import json
from collections.abc import Iterator
from pathlib import Path

from data.benchmarks import MALFORMED_ROW, AnnotatedClip, AnnotationSkip, DroppedReference


def read_vatex(path: Path) -> Iterator[AnnotatedClip | AnnotationSkip | DroppedReference]:
    """Every record's clip with its English captions, in file order."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a JSON file ({error}); pass a VATEX caption file") from None
    if not isinstance(data, list):
        raise ValueError(f"{path} holds no list of {{videoID, enCap}} records: is it a VATEX caption file?")
    for number, record in enumerate(data, 1):
        video_id = record.get("videoID") if isinstance(record, dict) else None
        if not isinstance(video_id, str) or not video_id.strip():
            yield AnnotationSkip(number, str(video_id or ""), MALFORMED_ROW, f"record {number} has no videoID")
            continue
        captions = record.get("enCap", [])
        if not isinstance(captions, list):
            yield AnnotationSkip(number, video_id, MALFORMED_ROW, f"enCap is {type(captions).__name__}, not a list")
            continue
        for caption in captions:
            if not isinstance(caption, str):
                yield DroppedReference(number, video_id, MALFORMED_ROW, f"enCap holds {caption!r}, not text")
        kept = tuple((number, caption) for caption in captions if isinstance(caption, str))
        yield AnnotatedClip(number, video_id, (video_id,), kept)
