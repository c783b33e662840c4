"""Read a ShareGPT test set (as data.convert_webvid writes it) into samples: id, clip, prompt, references.

A record may carry every reference caption of its clip (benchmarks have 10-40) in a ``references`` list beside
``messages``. The assistant turn stays the first reference, so LLaMA-Factory still reads the file as one
conversation: when ``references`` is given, its first element must equal the assistant turn exactly (a record
that disagrees is refused, naming it). Without ``references`` the assistant turn is the only reference.
"""

import json
from dataclasses import dataclass
from pathlib import Path

VIDEO_PLACEHOLDER = "<video>"


class InvalidTestSetError(ValueError):
    """The test set or its video directory cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Sample:
    """One test clip. ``video`` is the path given in the record; ``video_path`` is where it resolves on disk."""

    id: str
    video: str
    video_path: str
    prompt: str
    reference: str  # the assistant turn: the first reference
    references: tuple[str, ...] = ()  # every reference, ``reference`` first; () means just ``reference``

    def __post_init__(self) -> None:
        if not self.references:
            object.__setattr__(self, "references", (self.reference,))
        elif self.references[0] != self.reference:
            raise ValueError(f"sample {self.id}: the first of references must be the reference {self.reference!r}")


def _references(record: dict, assistant: str, where: str) -> tuple[str, ...]:
    """The record's ``references`` list (checked: texts, the assistant turn first), or just the assistant turn."""
    if "references" not in record:
        return (assistant,)
    references = record["references"]
    if not isinstance(references, list) or not references or not all(isinstance(r, str) for r in references):
        raise InvalidTestSetError(f"{where}: 'references' must be a non-empty list of caption texts")
    if references[0] != assistant:
        raise InvalidTestSetError(
            f"{where}: the first of 'references' ({references[0]!r}) must equal the assistant turn ({assistant!r}), "
            "which LLaMA-Factory reads as the caption"
        )
    return tuple(references)


def _sample_from_record(record: dict, index: int, video_dir: Path, source: Path) -> Sample:
    where = f"{source}: record {index}"
    if not isinstance(record, dict):
        raise InvalidTestSetError(f"{where}: expected a ShareGPT record (a JSON object), found {type(record).__name__}")
    messages = record.get("messages")
    videos = record.get("videos")
    if not isinstance(messages, list) or len(messages) < 2 or not isinstance(videos, list) or len(videos) != 1:
        raise InvalidTestSetError(f"{where}: expected 'messages' (user, assistant) and exactly one entry in 'videos'")
    if not isinstance(videos[0], str) or not videos[0]:
        raise InvalidTestSetError(f"{where}: the video entry must be a clip path, found {videos[0]!r}")
    user, assistant = messages[-2], messages[-1]
    if not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in (user, assistant)):
        raise InvalidTestSetError(f"{where}: each message must be an object with a 'role' and a text 'content'")
    if user.get("role") != "user" or assistant.get("role") != "assistant":
        raise InvalidTestSetError(f"{where}: the last two messages must be a user prompt and the assistant's reference")
    prompt = user["content"]
    if VIDEO_PLACEHOLDER not in prompt:
        prompt = VIDEO_PLACEHOLDER + prompt  # LLaMA-Factory's chat engine also prepends it when missing
    video_path = Path(videos[0]) if Path(videos[0]).is_absolute() else video_dir / videos[0]
    return Sample(
        id=str(record.get("id", index)),
        video=videos[0],
        video_path=str(video_path),
        prompt=prompt,
        reference=assistant["content"],
        references=_references(record, assistant["content"], where),
    )


def load_test_set(test_data: Path, video_dir: Path, num_samples: int | None = None) -> list[Sample]:
    """All samples of ``test_data`` (the first ``num_samples`` when given), clip paths made absolute against
    ``video_dir``.

    Missing or corrupt clips are not an error here: they are recorded per sample when their inputs are built.
    """
    test_data, video_dir = Path(test_data), Path(video_dir)
    if not test_data.is_file():
        raise InvalidTestSetError(f"test set {test_data} does not exist: run `make data` or pass --test-data PATH")
    if not video_dir.is_dir():
        raise InvalidTestSetError(
            f"video directory {video_dir} does not exist: pass --video-dir, the directory that "
            "the test set's video paths are relative to"
        )
    try:
        records = json.loads(test_data.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InvalidTestSetError(f"test set {test_data} is not valid JSON: {error}") from error
    except UnicodeDecodeError as error:
        raise InvalidTestSetError(f"test set {test_data} is not UTF-8 text ({error})") from error
    if not isinstance(records, list):
        raise InvalidTestSetError(f"test set {test_data} must be a JSON list of ShareGPT records")
    if num_samples is not None:
        if num_samples < 1:
            raise InvalidTestSetError(f"num_samples must be at least 1, got {num_samples} (None: every sample)")
        records = records[:num_samples]
    if not records:
        raise InvalidTestSetError(f"test set {test_data} has no samples to evaluate")
    samples = [
        _sample_from_record(record, index, video_dir.absolute(), test_data) for index, record in enumerate(records)
    ]
    ids = [sample.id for sample in samples]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidTestSetError(f"test set {test_data} repeats ids {duplicates[:5]}: every sample needs its own id")
    return samples
