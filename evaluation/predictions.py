"""predictions.jsonl: one line per (model, sample), appended as soon as it is known, so a killed run resumes.

A record: id, video, prompt, reference, prediction, status ("ok" | "error"), error, plus model ("base" |
"adapter"), raw (the text before cleaning), empty, repetitive and frames (the strip the report shows). A line
cut short by a kill is dropped on resume and its sample generated again; nothing is lost or written twice.
"""

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PREDICTIONS_FILE = "predictions.jsonl"
SHARD_GLOB = "predictions.rank*.jsonl"


def record_key(record: dict[str, Any]) -> tuple[str, str]:
    return record.get("model", "model"), str(record["id"])


def read_jsonl_numbered(path: Path) -> tuple[list[tuple[int, Any]], int | None]:
    """(line number, value) of every complete JSON line of ``path``, and the number of a last line cut short by a
    kill (no newline, not valid JSON), or None. Any other line that is not JSON is an error naming it."""
    values, cut_off = [], None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                values.append((number, json.loads(line)))
            except json.JSONDecodeError:
                if line.endswith("\n"):
                    raise ValueError(f"{path}:{number} is not valid JSON") from None
                cut_off = number
    return values, cut_off


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``path``; a last line cut short by a kill is ignored (resume redoes it)."""
    return [value for _, value in read_jsonl_numbered(path)[0]]


def read_existing(output_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Records already written to ``output_dir`` by earlier or concurrent runs, merged file and shards alike."""
    files = [output_dir / PREDICTIONS_FILE, *sorted(output_dir.glob(SHARD_GLOB))]
    existing: dict[tuple[str, str], dict[str, Any]] = {}
    for path in files:
        if path.is_file():
            for record in read_jsonl(path):
                existing.setdefault(record_key(record), record)
    return existing


class PredictionWriter:
    """Appends records to one JSONL file, flushing each line; on open, drops a torn last line left by a kill."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            records = read_jsonl(self.path)
            _write_atomically(self.path, records)
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PredictionWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _write_atomically(path: Path, records: Iterable[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


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


RUN_FILE = "run.json"


def check_same_run(output_dir: Path, run: dict[str, Any], write: bool) -> None:
    """Refuse to resume into ``output_dir`` if its predictions came from another model, adapter or settings.

    ``run`` (model and adapter identity, preprocessing and decoding settings, test set) is written to run.json by
    the first run (``write``: rank 0 only); a rerun resumes only when it is identical, so answers of an older
    adapter are never scored as the new one's.
    """
    path = output_dir / RUN_FILE
    current = json.loads(json.dumps(run, default=str))  # the form it takes on disk
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous != current:
            changed = sorted(key for key in previous.keys() | current.keys() if previous.get(key) != current.get(key))
            raise SystemExit(f"{output_dir} holds predictions of a different run (changed: {', '.join(changed)}); "
                             f"pass a new --output-dir, or delete {output_dir} to start over")
        return
    if any(output_dir.glob("predictions*.jsonl")):
        raise SystemExit(f"{output_dir} holds predictions but no {RUN_FILE} saying what made them; "
                         "pass a new --output-dir, or delete it to start over")
    if write:
        output_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
