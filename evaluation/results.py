"""The end of a run: predictions scored into metrics.json, report.md / report.html written, the summary printed.

    summary, failed = score_and_report(plan, output_dir, processes=1, resamples=1000, allow_errors=False)
    summary = write_results(output_dir, records, settings, identity, resamples)   # --score-only's end too

score_and_report is evaluate_model.py's last stage, on rank 0 once every process has written its answers: the
shards merged into one predictions.jsonl in test-set order, then write_results, then the verdict on errored samples
(evaluation.outcome), which decides the exit status.
"""

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.outcome import exit_message
from evaluation.predictions import merge_predictions
from evaluation.report import reports_line, write_report
from evaluation.run_plan import EvaluationPlan
from evaluation.scoring import score_records, write_metrics
from evaluation.summary_table import summary_table


def write_results(
    output_dir: Path,
    records: Sequence[dict[str, Any]],
    settings: dict[str, Any],
    identity: dict[str, Any],
    resamples: int,
    extra: dict[str, Any] | None = None,
    report_records: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Score ``records`` (``resamples`` bootstrap resamples), write metrics.json (with ``settings``, ``identity``
    and ``extra``) and the report of ``report_records`` (default: ``records``), print the summary table and where
    the report is; returns metrics.json's content."""
    results = score_records(records, resamples)
    summary = write_metrics(output_dir, results, settings, identity, extra, resamples)
    markdown, html = write_report(output_dir, records if report_records is None else report_records, summary)
    print(f"{summary_table(summary['results'])}\n{reports_line(markdown, html)}")
    return summary


def score_and_report(
    plan: EvaluationPlan, output_dir: Path, processes: int, resamples: int, allow_errors: bool
) -> tuple[dict[str, Any], bool]:
    """(metrics.json's content, whether the run must exit 1) once every one of ``processes`` has answered its
    share of ``plan``; errored samples are named on stderr (an error unless ``allow_errors``)."""
    records = merge_predictions(output_dir, [sample.id for sample in plan.samples], plan.models)
    summary = write_results(output_dir, records, plan.recorded_settings(processes), plan.model_identity(), resamples)
    message, fail = exit_message(records, allow_errors)
    if message:
        print(f"{'ERROR' if fail else 'WARNING'}: {message}", file=sys.stderr)
    return summary, fail
