"""MSR-VTT's ``videodatainfo.json`` (also ``train_val_videodatainfo.json``, ``test_videodatainfo.json``).

    {"videos": [{"video_id": "video0", "split": "train", "id": 0, "url": ..., "start time": ..., ...}, ...],
     "sentences": [{"video_id": "video0", "caption": "a man is ...", "sen_id": 0}, ...]}

``split`` is ``train``, ``validate`` or ``test`` (6,513 / 497 / 2,990 clips, 20 captions each); clips are
``{video_id}.mp4``. Record numbers are 1-based positions in ``videos`` (a clip) or ``sentences`` (a caption).
"""

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from data.benchmarks import MALFORMED_ROW, AnnotatedClip, AnnotationSkip, DroppedReference

SPLIT_NAMES = {"train": "train", "val": "validate", "test": "test"}  # our split name -> MSR-VTT's


def _load(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a JSON file ({error}); pass MSR-VTT's videodatainfo.json") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("videos"), list)
        or not isinstance(data.get("sentences"), list)
    ):
        raise ValueError(f"{path} has no 'videos' and 'sentences' lists: is it MSR-VTT's videodatainfo.json?")
    return data


def read_msrvtt(path: Path, split: str) -> Iterator[AnnotatedClip | AnnotationSkip | DroppedReference]:
    """The clips of ``split`` (train, val or test), each with its sentences in file order."""
    data = _load(path)
    wanted = SPLIT_NAMES[split]
    captions: dict[str, list[tuple[int, str]]] = defaultdict(list)
    bad_sentences: dict[str, list[int]] = defaultdict(list)
    for number, sentence in enumerate(data["sentences"], 1):
        video_id = sentence.get("video_id") if isinstance(sentence, dict) else None
        caption = sentence.get("caption") if isinstance(sentence, dict) else None
        if isinstance(video_id, str) and isinstance(caption, str):
            captions[video_id].append((number, caption))
        elif isinstance(video_id, str):
            bad_sentences[video_id].append(number)
    for number, video in enumerate(data["videos"], 1):
        video_id = video.get("video_id") if isinstance(video, dict) else None
        if not isinstance(video_id, str) or not video_id.strip():
            yield AnnotationSkip(number, str(video_id or ""), MALFORMED_ROW, f"videos[{number - 1}] has no video_id")
            continue
        if video.get("split") != wanted:
            continue
        for sentence_number in bad_sentences.pop(video_id, ()):  # once, even if the video is listed twice
            yield DroppedReference(
                sentence_number, video_id, MALFORMED_ROW, f"sentences[{sentence_number - 1}] has no string caption"
            )
        yield AnnotatedClip(number, video_id, (video_id,), tuple(captions.get(video_id, ())))
