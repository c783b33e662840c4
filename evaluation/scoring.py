"""From prediction records to metrics.json: counts, caption metrics per model, settings and model identity.

Every sample whose inputs were built is scored, empty answers included (they score zero); samples that failed
(missing or corrupt clip) have no answer and are counted under ``errors``. With several models (base and
adapter) they are scored on the same samples, in one scoring call. Each sample is scored against every one of its
references (a multi-reference test set), as coco-caption does. Diagnostics (mean answer length, distinct-1/2) are
measured on the same scored samples.
"""

import json
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from data.publish import write_text_atomic
from evaluation.bootstrap import CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, TIE_TOLERANCE
from evaluation.diagnostics import caption_diagnostics
from evaluation.metrics import METRIC_KEYS, score_systems, scorer_setup
from plugins.versions import versions

METRICS_FILE = "metrics.json"
COUNT_KEYS = ("samples", "scored", "empty", "repetitive", "errors")


def model_names(records: Sequence[dict[str, Any]]) -> list[str]:
    """Models in the order they first appear (base before adapter when comparing)."""
    return list(dict.fromkeys(record.get("model", "model") for record in records))


def count_outcomes(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    ok = [record for record in records if record["status"] == "ok"]
    return {
        "samples": len(records),
        "scored": len(ok),
        "empty": sum(1 for record in ok if not record["prediction"]),
        "repetitive": sum(1 for record in ok if record.get("repetitive")),
        "errors": len(records) - len(ok),
    }


def score_records(records: Sequence[dict[str, Any]], resamples: int = DEFAULT_RESAMPLES) -> dict[str, dict[str, Any]]:
    """model -> {"metrics": {bleu_1 .. cider}, "intervals": {key: [low, high] or None}, "diagnostics": {...},
    "counts": {...}}, and for every model after the first "paired": {"against": first model, "metrics": its
    difference per key (evaluation.bootstrap.paired_difference)}; metrics and diagnostics over the samples every
    model answered, each against all its references; intervals from ``resamples`` bootstrap resamples (0: none)."""
    models = model_names(records)
    by_model = {model: [r for r in records if r.get("model", "model") == model] for model in models}
    answered = set.intersection(*({str(r["id"]) for r in rs if r["status"] == "ok"} for rs in by_model.values()))
    first = [r for r in by_model[models[0]] if str(r["id"]) in answered]
    references = {str(r["id"]): list(r.get("references") or [r["reference"]]) for r in first}
    systems = {
        model: {str(r["id"]): r["prediction"] for r in rs if str(r["id"]) in answered} for model, rs in by_model.items()
    }
    scored = score_systems(references, systems, resamples) if references else None
    results = {
        model: {
            "metrics": scored.scores[model] if scored else dict.fromkeys(METRIC_KEYS),
            "intervals": scored.intervals(model) if scored else dict.fromkeys(METRIC_KEYS),
            "diagnostics": caption_diagnostics(list(systems[model].values())),
            "counts": count_outcomes(by_model[model]),
        }
        for model in models
    }
    for model in models[1:]:
        if scored and resamples:
            results[model]["paired"] = {"against": models[0], "metrics": scored.paired(model, models[0])}
    return results


def bootstrap_description(resamples: int) -> dict[str, Any]:
    """metrics.json's account of the intervals: how many resamples, the seed, the method."""
    if not resamples:
        return {"resamples": 0, "method": "off (--bootstrap 0): no intervals"}
    return {
        "resamples": resamples,
        "seed": DEFAULT_SEED,
        "confidence": CONFIDENCE,
        "method": "percentile bootstrap over samples: each metric recomputed as the corpus metric on every "
        "resample (CIDEr-D with the IDF of the resample, METEOR from the resample's summed METEOR statistics); "
        f"paired differences on the same resamples, above_zero = share of resamples in which the difference is > "
        f"{TIE_TOLERANCE:g} (smaller: a tie)",
    }


def write_metrics(
    output_dir: Path,
    results: dict[str, dict[str, Any]],
    settings: dict[str, Any],
    identity: dict[str, Any],
    extra: dict[str, Any] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
) -> dict[str, Any]:
    """metrics.json; top-level metrics/intervals/paired/counts are the adapter's when there is one (the model under
    test). ``resamples``: what score_records was given. ``extra`` adds top-level keys (e.g. what --score-only read)."""
    primary = "adapter" if "adapter" in results else next(iter(results))
    summary = {
        "metrics": results[primary]["metrics"],
        "intervals": results[primary].get("intervals"),
        "paired": results[primary].get("paired"),
        "bootstrap": bootstrap_description(resamples),
        "counts": results[primary]["counts"],
        "diagnostics": results[primary]["diagnostics"],
        "primary": primary,
        "results": results,
        "metric_tool": f"pycocoevalcap {version('pycocoevalcap')}: PTB tokenizer, BLEU-1..4, METEOR 1.5, ROUGE-L, "
        "CIDEr-D, corpus-level over the scored set",
        "scorer": scorer_setup(),
        "settings": settings,
        "identity": identity,
        "versions": versions(),
        **(extra or {}),
    }
    write_text_atomic(output_dir / METRICS_FILE, json.dumps(summary, indent=2) + "\n")
    return summary
