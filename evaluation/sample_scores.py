"""Per-sample scores for the report: each answer's CIDEr-D and BLEU-4 against all of its sample's references.

    from evaluation.sample_scores import sample_scores
    scores = sample_scores(records)   # {(model, sample id): {"cider": 0.42, "bleu_4": 0.1}}

Both come from pycocoevalcap's own scorers, run once over the same scored set as metrics.json (the samples every
model answered, PTB-tokenized): CIDEr-D's per-sample values use the IDF of the whole set and their mean is the
corpus CIDEr-D; BLEU-4 per sample is pycocoevalcap's sentence-level value (its mean is not corpus BLEU-4). Errored
samples have no score.
"""

import contextlib
import io
from collections.abc import Sequence
from typing import Any

from evaluation.metrics import java_on_path, ptb_tokenize
from evaluation.scoring import model_names

SAMPLE_SCORE_KEYS = ("cider", "bleu_4")
SAMPLE_SCORE_NOTE = (
    "Per-sample scores (×100): CIDEr-D of the answer against all of the sample's references, with the IDF of the "
    "whole scored set (their mean is the corpus CIDEr-D above), and pycocoevalcap's sentence-level BLEU-4."
)


def sample_scores(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """(model, sample id) -> {"cider", "bleu_4"} for every sample that every model answered; {} when none did."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    models = model_names(records)
    answered = set.intersection(
        *({str(r["id"]) for r in records if r.get("model", "model") == m and r["status"] == "ok"} for m in models)
    )
    if not answered:
        return {}
    references = {}
    predictions: dict[str, dict[str, str]] = {model: {} for model in models}
    for record in records:
        sample_id = str(record["id"])
        if sample_id in answered:
            references.setdefault(sample_id, list(record.get("references") or [record["reference"]]))
            predictions[record.get("model", "model")][sample_id] = record["prediction"]
    ids = sorted(answered)
    scores: dict[tuple[str, str], dict[str, float]] = {}
    with java_on_path(), contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its length ratios
        gts = ptb_tokenize({key: references[key] for key in ids})
        for model in models:
            res = ptb_tokenize({key: [predictions[model][key]] for key in ids})
            cider = Cider().compute_score(gts, res)[1]
            bleu_4 = Bleu(4).compute_score(gts, res, verbose=0)[1][3]
            for key, c, b in zip(ids, cider, bleu_4, strict=True):
                scores[(model, key)] = {"cider": float(c), "bleu_4": float(b)}
    return scores
