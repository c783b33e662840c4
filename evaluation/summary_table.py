"""The console summary of a run: every metric, diagnostic and count, one column per model (base beside adapter).

Scores and distinct-n are shown ×100 as in the report, the mean answer length in words, counts as numbers; the
same values are in metrics.json under ``results.<model>``.
"""

from collections.abc import Mapping
from typing import Any

from evaluation.diagnostics import DIAGNOSTIC_KEYS
from evaluation.metrics import METRIC_KEYS
from evaluation.scoring import COUNT_KEYS

GROUPS = (("metrics", METRIC_KEYS), ("diagnostics", DIAGNOSTIC_KEYS), ("counts", COUNT_KEYS))
NOT_SCALED = {"mean_words"}  # shown as is; every other float is a fraction shown ×100


def format_value(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.1f}" if key in NOT_SCALED else f"{100 * value:.2f}"
    return str(value)


def summary_table(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """``results`` (metrics.json's: model -> {"metrics", "diagnostics", "counts"}) as an aligned text table."""
    models = list(results)
    rows = [["(scores ×100)", *models]]
    for group, keys in GROUPS:
        rows += [[key, *(format_value(key, results[m].get(group, {}).get(key)) for m in models)] for key in keys]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for label, *cells in rows:
        aligned = [cell.rjust(width) for cell, width in zip(cells, widths[1:], strict=True)]
        lines.append("  ".join([label.ljust(widths[0]), *aligned]))
    return "\n".join(lines)
