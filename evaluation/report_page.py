"""report.html: run identity and metrics at the top, then the samples rendered in the browser a page at a time.

The samples travel as JSON inside the page and evaluation/report_assets/report.js draws one page of rows at a time
(sort worst first, errors only, search), so a 10,000-sample report opens fast; report.css keeps every width inside
the window. Both assets are inlined: the page works offline, from a file:// URL, with its frames/ folder beside it.
"""

import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.bootstrap import TIE_TOLERANCE
from evaluation.diagnostics import DIAGNOSTIC_KEYS
from evaluation.metrics import METRIC_KEYS
from evaluation.scoring import COUNT_KEYS
from evaluation.summary_table import format_paired, format_value, format_with_interval

ASSETS = Path(__file__).parent / "report_assets"
VIDEO_KEYS = ("video_fps", "video_maxlen", "video_max_pixels", "video_min_pixels", "cutoff_len")
GENERATION_KEYS = ("num_beams", "max_new_tokens", "repetition_penalty", "no_repeat_ngram_size", "min_new_tokens")


def _joined(settings: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    values = [f"{key} {settings[key]}" for key in keys if settings.get(key) is not None]
    return ", ".join(values) or None


def identity_items(summary: Mapping[str, Any], run: Mapping[str, Any] | None, samples: int) -> list[tuple[str, Any]]:
    """(label, value) pairs saying what made the report: models, adapter and its hash, settings, test set, date.

    ``run`` is the output folder's run.json (evaluation.run_identity) when there is one: it holds the test set's
    content hash. A value nobody recorded shows as n/a."""
    settings, identity, run = summary.get("settings") or {}, summary.get("identity") or {}, run or {}
    adapter = identity.get("adapter") or {}
    test_set = run.get("test_set") or {}
    versions = summary.get("versions") or {}
    items = [
        ("models", ", ".join(summary.get("results") or {})),
        ("versions", ", ".join(f"{name} {value or 'not installed'}" for name, value in versions.items()) or None),
        ("base model", identity.get("base_model") or settings.get("base_model")),
        ("adapter", adapter.get("path") or settings.get("adapter_path")),
        ("adapter sha256", adapter.get("sha256") or identity.get("adapter_sha256") or run.get("adapter_sha256")),
        ("template", settings.get("template")),
        ("video", _joined(settings, VIDEO_KEYS)),
        ("generation", _joined(settings, GENERATION_KEYS)),
        ("test set", settings.get("test_data")),
        ("test set sha256", test_set.get("sha256")),
        ("samples", test_set.get("samples") or settings.get("num_samples") or samples),
        ("clips from", settings.get("video_dir")),
        ("report written", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("metrics", summary.get("metric_tool")),
    ]
    if summary.get("score_only"):
        items.insert(0, ("scored file", summary["score_only"].get("predictions")))
    return items


def _change(key: str, base: float | None, adapter: float | None) -> str:
    """adapter − base as the table shows values: signed, and a change that rounds to nothing shown unsigned."""
    if base is None or adapter is None:
        return ""
    text = format_value(key, adapter - base).lstrip("-")
    return text if float(text) == 0 else ("+" if adapter > base else "-") + text


def metric_cell(results: Mapping[str, Any], model: str, group: str, key: str) -> str:
    """A model's value as the tables show it: a metric with its bootstrap interval when it has one."""
    value = results[model].get(group, {}).get(key)
    if group != "metrics":
        return format_value(key, value)
    return format_with_interval(key, value, (results[model].get("intervals") or {}).get(key))


def change_cell(results: Mapping[str, Any], group: str, key: str) -> str:
    """adapter − base: a metric's paired bootstrap difference when there is one, else the plain change."""
    if group == "counts":
        return ""
    paired = ((results["adapter"].get("paired") or {}).get("metrics") or {}).get(key)
    if paired:
        return format_paired(key, paired)
    return _change(key, results["base"].get(group, {}).get(key), results["adapter"].get(group, {}).get(key))


def interval_note(summary: Mapping[str, Any]) -> str:
    """What the brackets are, from metrics.json's ``bootstrap`` entry."""
    bootstrap = summary.get("bootstrap") or {}
    if not bootstrap.get("resamples"):
        return "No bootstrap intervals (--bootstrap 0)."
    return (
        f"[low, high]: {100 * bootstrap.get('confidence', 0.95):.0f} % percentile bootstrap interval over samples "
        f"({bootstrap['resamples']} resamples, seed {bootstrap.get('seed')}); adapter − base: paired difference on "
        f"the same resamples, and the share of resamples in which it is above 0 (by more than {TIE_TOLERANCE:g}: "
        "a smaller difference is a tie)."
    )


def _metric_table(results: Mapping[str, Any]) -> str:
    """Every metric (with its interval), diagnostic and count, one column per model, and adapter − base (paired,
    for metrics) when both are there."""
    models = list(results)
    delta = "base" in results and "adapter" in results
    head = "".join(f"<th>{html.escape(m)}</th>" for m in models) + ("<th>adapter − base</th>" if delta else "")
    rows = []
    for group, keys in (("metrics", METRIC_KEYS), ("diagnostics", DIAGNOSTIC_KEYS), ("counts", COUNT_KEYS)):
        for key in keys:
            cells = "".join(f"<td>{metric_cell(results, m, group, key)}</td>" for m in models)
            if delta:
                cells += f"<td>{change_cell(results, group, key)}</td>"
            rows.append(f"<tr><td>{key}</td>{cells}</tr>")
    return f"<table class='metrics'><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _embedded_json(value: Any) -> str:
    """JSON that cannot end its <script> element early (every '<' escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(
    summary: Mapping[str, Any],
    identity: Sequence[tuple[str, Any]],
    rows: Sequence[dict[str, Any]],
    note: str,
    sections_html: str = "",
) -> str:
    """The whole page: ``identity`` items, the metric table, ``sections_html`` (escaped by its maker), ``note`` on
    the per-sample scores, and ``rows`` (evaluation.report.sample_rows) as JSON for the script."""
    esc = html.escape
    facts = "".join(
        f"<dt>{esc(label)}</dt><dd>{'n/a' if value in (None, '') else esc(str(value))}</dd>"
        for label, value in identity
    )
    config = {"models": list(summary["results"]), "primary": summary.get("primary")}
    css, script = (ASSETS / "report.css").read_text(encoding="utf-8"), (ASSETS / "report.js").read_text("utf-8")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Evaluation report</title>"
        f"<style>{css}</style></head><body><h1>Evaluation report</h1><div class='top'><section>"
        f"<h2>Run</h2><dl class='identity'>{facts}</dl></section><section class='metrics-section'><h2>Metrics</h2>"
        f"<p>Scores ×100, as named under Run.</p>{_metric_table(summary['results'])}"
        f"<p class='note'>{esc(interval_note(summary))}</p></section></div>{sections_html}"
        f"<h2>Samples</h2><p class='note'>{esc(note)} Worst first puts errored samples last; "
        "“errors only” shows them. Click frames to enlarge; a sample's # links to it; export writes the rows that "
        "match the filters.</p>"
        "<div class='controls'><span class='buttons'><button id='order-file' class='on'>test-set order</button>"
        "<button id='order-worst'>worst first</button><button id='order-best'>best first</button></span>"
        "<label>score of <select id='score-model'></select></label>"
        "<label><input type='checkbox' id='errors-only'> errors only</label>"
        "<input type='search' id='search' placeholder='search id, clip, captions, errors'>"
        "<span class='buttons'><button id='export-csv'>export CSV</button>"
        "<button id='export-jsonl'>export JSONL</button></span>"
        "<label>rows per page <select id='page-size'><option>25</option><option selected>50</option>"
        "<option>100</option><option>200</option></select></label></div>"
        "<div class='pager'><button id='prev'>previous</button><span id='count'></span>"
        "<button id='next'>next</button></div><div id='samples'></div>"
        "<noscript><p>The samples are drawn by JavaScript; report.md beside this page lists every one.</p></noscript>"
        "<div id='lightbox' hidden><a id='lightbox-open' target='_blank'>open the image file</a></div>"
        f"<script type='application/json' id='config'>{_embedded_json(config)}</script>"
        f"<script type='application/json' id='rows'>{_embedded_json(list(rows))}</script>"
        f"<script>{script}</script></body></html>\n"
    )
