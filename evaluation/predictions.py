"""predictions.jsonl: one line per (model, sample), appended as soon as it is known, so a killed run resumes.

A line is a Prediction (the one record type: written by the generation loop, read back by --score-only, which also
turns LLaMA-Factory's generated_predictions.jsonl into it). A line cut short by a kill is dropped on resume and its
sample generated again; nothing is lost or written twice. A rerun keeps the answers already made and retries the
samples that errored (see prepare_resume). Each line keeps every reference of its sample (``references``, the
first one also as ``reference``); a file written before multi-reference test sets, with ``reference`` only, reads
as that one reference.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

from data.eval_samples import Sample
from data.publish import write_text_atomic
from evaluation.cleaning import clean_answer, is_repetitive

PREDICTIONS_FILE = "predictions.jsonl"
SHARD_GLOB = "predictions.rank*.jsonl"
STATUSES = ("ok", "error")


class PredictionsFileError(ValueError):
    """A predictions file cannot be read or used; the message names the file, the line and what is wrong."""


@dataclass(frozen=True)
class Prediction:
    """One model's answer to one sample, or the error that prevented it: a line of predictions.jsonl."""

    id: str
    model: str  # "base" | "adapter" ("model" for a file scored with --score-only that names none)
    video: str | None  # the clip path as the test set gives it
    video_path: str | None  # where the clip was read
    prompt: str | None
    reference: str  # the first reference (the test set's assistant turn)
    references: tuple[str, ...]  # every reference of the sample, ``reference`` first; all of them are scored
    prediction: str | None  # the cleaned answer; None when status is "error"
    status: str  # "ok" | "error"
    error: str | None
    raw: str | None  # the text before cleaning
    empty: bool | None
    repetitive: bool | None
    frames: str | None  # the strip of frames the model saw, relative to the output folder

    @classmethod
    def of_sample(
        cls,
        sample: Sample,
        model: str,
        raw: str | None,
        error: str | None,
        frames: str | None,
        special_tokens: Sequence[str] = (),
    ) -> "Prediction":
        """The record of ``sample`` answered by ``model``: ``raw`` text (cleaned here), or None and the ``error``."""
        prediction = None if raw is None else clean_answer(raw, special_tokens)
        return cls(
            id=sample.id,
            model=model,
            video=sample.video,
            video_path=sample.video_path,
            prompt=sample.prompt,
            reference=sample.reference,
            references=sample.references,
            prediction=prediction,
            status="ok" if error is None else "error",
            error=error,
            raw=raw,
            empty=None if prediction is None else prediction == "",
            repetitive=None if prediction is None else is_repetitive(prediction),
            frames=frames,
        )

    @classmethod
    def from_json(cls, record: Any, where: str) -> "Prediction":
        """A line read back, checked; PredictionsFileError names ``where`` (file:line) and the field at fault."""
        if not isinstance(record, dict):
            raise PredictionsFileError(f"{where}: not a JSON object but {type(record).__name__}")
        if not isinstance(record.get("id"), (str, int)):
            raise PredictionsFileError(f"{where}: field 'id' must be text or a number, found {record.get('id')!r}")
        if record.get("status") not in STATUSES:
            raise PredictionsFileError(
                f"{where}: field 'status' must be one of {STATUSES}, found {record.get('status')!r}"
            )
        reference = _require_text(record, "reference", where)
        references = _references(record, reference, where)
        ok = record["status"] == "ok"
        prediction = _require_text(record, "prediction", where) if ok else None
        return cls(
            id=str(record["id"]),
            model=str(record.get("model", "model")),
            video=record.get("video"),
            video_path=record.get("video_path"),
            prompt=record.get("prompt"),
            reference=reference,
            references=references,
            prediction=prediction,
            status=record["status"],
            error=None if ok else record.get("error") or "unknown error",
            raw=record.get("raw"),
            empty=record.get("empty", prediction == "") if ok else None,
            repetitive=record.get("repetitive", is_repetitive(prediction)) if ok else None,
            frames=record.get("frames"),
        )

    @classmethod
    def from_llamafactory(cls, record: Any, where: str, index: int) -> "Prediction":
        """A line of LLaMA-Factory's generated_predictions.jsonl ({"prompt", "predict", "label"}), the ``index``-th."""
        if not isinstance(record, dict):
            raise PredictionsFileError(f"{where}: not a JSON object but {type(record).__name__}")
        raw, label = _require_text(record, "predict", where), _require_text(record, "label", where)
        prediction, reference = clean_answer(raw), clean_answer(label)
        return cls(
            id=str(index),
            model="model",
            video=None,
            video_path=None,
            prompt=record.get("prompt"),
            reference=reference,
            references=(reference,),
            prediction=prediction,
            status="ok",
            error=None,
            raw=raw,
            empty=prediction == "",
            repetitive=is_repetitive(prediction),
            frames=None,
        )

    def to_json(self) -> dict[str, Any]:
        """The line as written (``references`` a JSON list)."""
        return {**asdict(self), "references": list(self.references)}


def _require_text(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        found = "missing" if key not in record else f"{type(value).__name__} {value!r}"[:60]
        raise PredictionsFileError(f"{where}: field {key!r} must be text, found {found}")
    return value


def _references(record: dict[str, Any], reference: str, where: str) -> tuple[str, ...]:
    """The line's ``references`` (texts, ``reference`` first), or just ``reference`` for a file that has none."""
    if "references" not in record:
        return (reference,)
    references = record["references"]
    if not isinstance(references, list) or not references or not all(isinstance(r, str) for r in references):
        raise PredictionsFileError(f"{where}: field 'references' must be a non-empty list of texts")
    if references[0] != reference:
        raise PredictionsFileError(f"{where}: the first of 'references' must equal 'reference' ({reference!r})")
    return tuple(references)


def record_key(record: dict[str, Any]) -> tuple[str, str]:
    return record.get("model", "model"), str(record["id"])


def read_jsonl_numbered(path: Path) -> tuple[list[tuple[int, Any]], int | None]:
    """(line number, value) of every complete JSON line of ``path``, and the number of a last line cut short by a
    kill (no newline, not valid JSON), or None. Any other line that is not JSON is an error naming it."""
    values, cut_off = [], None
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    values.append((number, json.loads(line)))
                except json.JSONDecodeError:
                    if line.endswith("\n"):
                        raise PredictionsFileError(f"{path}:{number} is not valid JSON") from None
                    cut_off = number
    except UnicodeDecodeError as error:
        raise PredictionsFileError(f"{path} is not UTF-8 text ({error}): not a predictions file") from None
    return values, cut_off


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``path``; a last line cut short by a kill is ignored (resume redoes it)."""
    return [value for _, value in read_jsonl_numbered(path)[0]]


def read_existing(output_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Records already written to ``output_dir`` by earlier or concurrent runs, merged file and shards alike; an
    answer (status ok) wins over an error recorded for the same sample."""
    files = [output_dir / PREDICTIONS_FILE, *sorted(output_dir.glob(SHARD_GLOB))]
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    for path in files:
        if not path.is_file():
            continue
        for number, record in read_jsonl_numbered(path)[0]:
            if not isinstance(record, dict) or "id" not in record:
                raise PredictionsFileError(
                    f"{path}:{number}: not a prediction record (a JSON object with an id): "
                    "was this file written by evaluate_model.py? Pass a new --output-dir"
                )
            key = record_key(record)
            if key not in existing or (existing[key].get("status") != "ok" and record.get("status") == "ok"):
                existing[key] = record
    return existing


@dataclass(frozen=True)
class Resumed:
    """What a rerun found in its output folder: answers kept, errored samples to retry, stale answers redone."""

    kept: int  # answers (one per model and sample)
    retried: int  # samples
    redone: int  # answers


def prepare_resume(output_dir: Path, samples: Sequence[Sample], models: Sequence[str]) -> Resumed:
    """Keep only the answers a rerun can reuse, in predictions.jsonl (rewritten atomically, shards folded in).

    An answer is kept when it belongs to a current (model, sample) and was made from the same clip path. Samples
    that errored (a clip missing or unreadable then) are dropped so they are tried again, and so are answers made
    from another clip path (another --video-dir). Run on one process (rank 0) before generation starts.
    """
    existing = read_existing(output_dir)
    current = {(model, sample.id): sample.video_path for sample in samples for model in models}
    kept = [r for key, r in existing.items() if r.get("status") == "ok" and r.get("video_path") == current.get(key)]
    errored = [key for key, r in existing.items() if key in current and r.get("status") != "ok"]
    if existing:
        _write_atomically(output_dir / PREDICTIONS_FILE, kept)
    for shard in output_dir.glob(SHARD_GLOB):
        shard.unlink()
    return Resumed(len(kept), len({sample_id for _, sample_id in errored}), len(existing) - len(kept) - len(errored))


class PredictionWriter:
    """Appends records to one JSONL file, flushing each line; on open, drops a torn last line left by a kill."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            records = read_jsonl(self.path)
            _write_atomically(self.path, records)
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, record: Prediction) -> None:
        self._file.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _write_atomically(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace ``path`` with ``records`` all at once: a kill leaves either the old file or the new one."""
    write_text_atomic(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))


def merge_predictions(output_dir: Path, sample_ids: Sequence[str], models: Sequence[str]) -> list[dict[str, Any]]:
    """One predictions.jsonl in test-set order (shards of all ranks folded in and removed). Returns its records."""
    existing = read_existing(output_dir)
    missing = [(m, i) for i in sample_ids for m in models if (m, i) not in existing]
    if missing:
        raise RuntimeError(f"{output_dir}: no prediction for {len(missing)} (model, sample) pairs, e.g. {missing[:3]}")
    records = [existing[(model, sample_id)] for sample_id in sample_ids for model in models]
    _write_atomically(output_dir / PREDICTIONS_FILE, records)
    for shard in output_dir.glob(SHARD_GLOB):
        shard.unlink()
    return records
