"""The console summary of a run: every metric, diagnostic and count, one column per model (base beside adapter).

Scores and distinct-n are shown ×100 as in the report, each metric with its 95 % bootstrap interval (``45.13 [43.20,
47.01]``) and, with --compare-base, the paired difference adapter − base with its interval and the share of
resamples in which it is above zero, the mean answer length in words, counts as numbers; the
same values are in metrics.json under ``results.<model>``.
"""

from collections.abc import Mapping, Sequence
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


def format_with_interval(key: str, value: Any, interval: Sequence[float] | None) -> str:
    """``95.10 [93.80, 96.20]``: the value and its bootstrap interval (×100), or the value alone without one."""
    if interval is None or value is None:
        return format_value(key, value)
    return f"{format_value(key, value)} [{format_value(key, interval[0])}, {format_value(key, interval[1])}]"


def format_paired(key: str, paired: Mapping[str, Any] | None) -> str:
    """``+3.21 [1.10, 5.30] >0 in 99.8%``: a paired difference (×100), its interval and how often it is above 0."""
    if not paired:
        return ""
    low, high = (format_value(key, bound) for bound in paired["interval"])
    return f"{100 * paired['difference']:+.2f} [{low}, {high}] >0 in {100 * paired['above_zero']:.1f}%"


def table_rows(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[list[str]]:
    """The summary table's cells, header row first: each key, each model's value (a metric with its 95 % bootstrap
    interval), and a column per paired difference; the console and the comparison page show these same cells."""
    models = list(results)
    paired = [m for m in models if results[m].get("paired")]
    rows = [["(scores ×100)", *models, *(f"{m} − {results[m]['paired']['against']}" for m in paired)]]
    for group, keys in GROUPS:
        for key in keys:
            if group == "metrics":
                cells = [
                    format_with_interval(
                        key, results[m]["metrics"].get(key), (results[m].get("intervals") or {}).get(key)
                    )
                    for m in models
                ]
                cells += [format_paired(key, results[m]["paired"]["metrics"].get(key)) for m in paired]
            else:
                cells = [format_value(key, results[m].get(group, {}).get(key)) for m in models] + [""] * len(paired)
            rows.append([key, *cells])
    return rows


def summary_table(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """``results`` (metrics.json's: model -> {"metrics", "intervals", "diagnostics", "counts", "paired"}) as an
    aligned text table (table_rows)."""
    rows = table_rows(results)
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for label, *cells in rows:
        aligned = [cell.rjust(width) for cell, width in zip(cells, widths[1:], strict=True)]
        lines.append("  ".join([label.ljust(widths[0]), *aligned]))
    return "\n".join(lines)
