"""``--score-only``: score a predictions file that is already written, ours or LLaMA-Factory's.

Ours is predictions.jsonl (see evaluation.predictions); LLaMA-Factory's ``do_predict`` writes
generated_predictions.jsonl ({"prompt", "predict", "label"}). Every record is checked and a malformed one stops the
run naming the file and line; a last line cut off by a kill is skipped, counted and named. Re-scoring keeps the
model identity and settings of the run that made the predictions (its metrics.json, else its run.json). A line with
a ``references`` list is scored against all of them. Prints the same summary table as an evaluation run.
"""

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.bootstrap import DEFAULT_RESAMPLES
from evaluation.outcome import errors_message
from evaluation.predictions import Prediction, PredictionsFileError, read_jsonl_numbered
from evaluation.results import write_results
from evaluation.run_identity import RunIdentity
from evaluation.scoring import METRICS_FILE


@dataclass(frozen=True)
class PredictionsToScore:
    records: list[dict[str, Any]]
    cut_off_line: int | None  # a last line cut short by a kill, skipped


def read_predictions_for_scoring(path: Path) -> PredictionsToScore:
    """Records of our predictions.jsonl, or of LLaMA-Factory's generated_predictions.jsonl turned into ours."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsFileError(f"predictions file {path} does not exist")
    lines, cut_off = read_jsonl_numbered(path)
    if not lines:
        raise PredictionsFileError(f"predictions file {path} has no complete record: nothing to score")
    first = lines[0][1]
    llamafactory = isinstance(first, dict) and {"predict", "label"} <= set(first)
    records, seen = [], {}
    for index, (number, line) in enumerate(lines):
        where = f"{path}:{number}"
        record = Prediction.from_llamafactory(line, where, index) if llamafactory else Prediction.from_json(line, where)
        key = (record.model, record.id)
        if key in seen:
            raise PredictionsFileError(
                f"{where}: sample {key[1]!r} of model {key[0]!r} again (first on line "
                f"{seen[key]}): one record per sample and model"
            )
        seen[key] = number
        records.append(record.to_json())
    return PredictionsToScore(records, cut_off)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def identity_of_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(identity, settings) of the run that wrote ``run_dir``: its metrics.json, else its run.json, else empty."""
    metrics = _read_json(run_dir / METRICS_FILE)
    if metrics and metrics.get("identity"):
        return metrics["identity"], metrics.get("settings") or {}
    run = RunIdentity.read(run_dir)
    if run:
        identity = {"base_model": run.settings.get("base_model"), "adapter_sha256": run.adapter_sha256}
        return identity, {**run.settings, **(run.generation or {})}
    return {}, {}


def score_only(predictions_file: Path, output_dir: Path, resamples: int = DEFAULT_RESAMPLES) -> dict[str, Any]:
    """Score ``predictions_file`` into ``output_dir`` (metrics.json, report.md/html), with ``resamples`` bootstrap
    resamples for the intervals (0: none); returns the summary."""
    predictions_file = Path(predictions_file)
    to_score = read_predictions_for_scoring(predictions_file)
    skipped = [] if to_score.cut_off_line is None else [to_score.cut_off_line]
    if skipped:
        print(
            f"WARNING: {predictions_file}:{skipped[0]}: last line cut off (a killed run?), not valid JSON: skipped, "
            f"{len(to_score.records)} complete records scored",
            file=sys.stderr,
        )
    errors = errors_message(to_score.records)
    if errors:
        print(f"WARNING: {predictions_file}: {errors}", file=sys.stderr)
    identity, settings = identity_of_run(predictions_file.parent)
    output_dir.mkdir(parents=True, exist_ok=True)
    extra = {"score_only": {"predictions": str(predictions_file), "skipped_lines": skipped}}
    report_records = _frames_seen_from(to_score.records, predictions_file.parent, output_dir)
    return write_results(output_dir, to_score.records, settings, identity, resamples, extra, report_records)


def _frames_seen_from(records: list[dict[str, Any]], run_dir: Path, output_dir: Path) -> list[dict[str, Any]]:
    """Records whose frame strips (relative to the run's folder) are linked from ``output_dir`` instead."""
    if run_dir.resolve() == output_dir.resolve():
        return records
    return [
        {**record, "frames": os.path.relpath(run_dir / record["frames"], output_dir)}
        if isinstance(record.get("frames"), str)
        else record
        for record in records
    ]
