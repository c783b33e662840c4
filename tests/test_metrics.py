"""caption_metrics pinned on small hand-checked cases; one scoring call (one METEOR JVM) for all of them.

References (after PTB tokenization: lower-cased, punctuation removed):
  s1 "the cat sat on the mat"   s2 "a dog runs in the park"   s3 "a red ball rolls on grass"
Multi-reference sets (MSR-VTT has 20 per clip) are scored against all of a clip's references, as pycocoevalcap's own
scorers do with gts = {id: [every reference]}: checked against them called directly, and through --score-only.
"""

import json
import math

import pytest

from evaluation.metrics import METRIC_KEYS, caption_metrics
from evaluation.score_only import score_only

REFERENCES = {
    "s1": ["The cat sat on the mat."],
    "s2": ["A dog runs in the park."],
    "s3": ["A red ball rolls on grass."],
}
SYSTEMS = {
    "exact": {"s1": "the cat sat on the mat", "s2": "A dog runs in the park!", "s3": "a red ball rolls on grass"},
    # s1 only differs: "the cat sat on a rug" -> 4/6 unigrams, 3/5 bigrams, 2/4 trigrams, 1/3 4-grams match
    "one_changed": {"s1": "the cat sat on a rug", "s2": "a dog runs in the park", "s3": "a red ball rolls on grass"},
    "one_empty": {"s1": "", "s2": "a dog runs in the park", "s3": "a red ball rolls on grass"},
    "all_empty": {"s1": "", "s2": "", "s3": ""},
}


# Several references per clip, a different number each; the prediction matches a later reference best.
MULTI_REFERENCES = {
    "s1": ["The cat sat on the mat.", "A cat is sitting on a rug.", "A grey cat rests on a rug indoors."],
    "s2": ["A dog runs in the park.", "A brown dog is running across the grass."],
    "s3": ["A red ball rolls on grass."],
}
MULTI_SYSTEM = {"s1": "a cat is sitting on a rug", "s2": "a dog is running across the grass", "s3": "a ball rolls"}


@pytest.fixture(scope="module")
def scores():
    return caption_metrics(REFERENCES, SYSTEMS)


def test_every_metric_key_for_every_system(scores):
    assert set(scores) == set(SYSTEMS)
    assert all(tuple(system_scores) == METRIC_KEYS for system_scores in scores.values())


def test_exact_match_scores_one(scores):
    exact = scores["exact"]
    for key in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l"):
        assert exact[key] == pytest.approx(1.0, abs=1e-6), key
    assert exact["meteor"] > 0.95


def test_bleu_n_is_corpus_level_and_indexed_by_n(scores):
    """Matched / total n-grams summed over the corpus (18 words, no brevity penalty), then the geometric mean."""
    precisions = [(4 + 12) / 18, (3 + 10) / 15, (2 + 8) / 12, (1 + 6) / 9]
    system = scores["one_changed"]
    for n in range(1, 5):
        expected = math.exp(sum(math.log(p) for p in precisions[:n]) / n)
        assert system[f"bleu_{n}"] == pytest.approx(expected, abs=1e-6), f"bleu_{n}"
    assert system["bleu_1"] > system["bleu_2"] > system["bleu_3"] > system["bleu_4"]  # never one averaged number


def test_rouge_l_is_the_mean_of_sentence_f_scores(scores):
    # s1: LCS "the cat sat on" = 4 of 6 words both ways -> P = R = 2/3, F_beta = 2/3
    assert scores["one_changed"]["rouge_l"] == pytest.approx((2 / 3 + 1 + 1) / 3, abs=1e-6)


def test_empty_answer_is_kept_and_scores_zero(scores):
    one_empty = scores["one_empty"]
    assert one_empty["rouge_l"] == pytest.approx(2 / 3, abs=1e-6)  # (0 + 1 + 1) / 3: not skipped
    assert one_empty["meteor"] < scores["exact"]["meteor"] * 0.75
    # corpus BLEU: 12 hypothesis words against 18 reference words -> brevity penalty exp(1 - 18/12)
    assert one_empty["bleu_1"] == pytest.approx(math.exp(1 - 18 / 12), abs=1e-6)
    for key in METRIC_KEYS:
        assert scores["all_empty"][key] == pytest.approx(0.0, abs=1e-6), key


def test_cider_uses_idf_of_the_whole_set(scores):
    """CIDEr-D over the whole set; the same samples scored as a subset get other IDF weights and another score."""
    from pycocoevalcap.cider.cider import Cider

    gts = {"s1": ["the cat sat on the mat"], "s2": ["a dog runs in the park"], "s3": ["a red ball rolls on grass"]}
    res = {"s1": ["the cat sat on a rug"], "s2": ["a dog runs in the park"], "s3": ["a red ball rolls on grass"]}
    whole = Cider().compute_score(gts, res)[0]
    assert scores["one_changed"]["cider"] == pytest.approx(whole, abs=1e-9)
    subset = Cider().compute_score({k: gts[k] for k in ("s1", "s2")}, {k: res[k] for k in ("s1", "s2")})[0]
    assert subset != pytest.approx(whole, rel=1e-3)
    assert scores["exact"]["cider"] == pytest.approx(10.0, abs=1e-6)  # CIDEr-D's scale: x10, identical = 10


def test_mismatched_ids_are_an_error():
    from evaluation.metrics import MetricsError

    with pytest.raises(MetricsError, match="predictions missing"):
        caption_metrics(REFERENCES, {"x": {"s1": "a"}})


@pytest.mark.slow
def test_agrees_with_pycocoevalcap_called_directly(scores):
    assert scores["one_changed"] == pytest.approx(pycocoevalcap_direct(REFERENCES, SYSTEMS["one_changed"]), abs=1e-9)


def pycocoevalcap_direct(references: dict[str, list[str]], system: dict[str, str]) -> dict[str, float]:
    """pycocoevalcap's own tokenizer and scorers, composed as its COCOEvalCap.evaluate does (gts = {id: [all refs]}):
    the reference our scorer is held to. Ours tokenizes through evaluation.ptb_tokenizer (one line per caption,
    checked), not PTBTokenizer; COCOEvalCap itself cannot run offline, as it always runs SPICE (a download)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({k: [{"caption": c} for c in v] for k, v in references.items()})
    res = tokenizer.tokenize({k: [{"caption": v}] for k, v in system.items()})
    bleu, _ = Bleu(4).compute_score(gts, res)
    direct = {f"bleu_{n + 1}": bleu[n] for n in range(4)}
    direct["meteor"] = Meteor().compute_score(gts, res)[0]
    direct["rouge_l"] = Rouge().compute_score(gts, res)[0]
    direct["cider"] = Cider().compute_score(gts, res)[0]
    return direct


@pytest.fixture(scope="module")
def multi_direct():
    return pycocoevalcap_direct(MULTI_REFERENCES, MULTI_SYSTEM)


@pytest.mark.slow
def test_multi_reference_agrees_with_pycocoevalcap_called_directly(multi_direct):
    ours = caption_metrics(MULTI_REFERENCES, {"m": MULTI_SYSTEM})["m"]
    assert ours == pytest.approx(multi_direct, abs=1e-9)
    first_only = pycocoevalcap_direct({k: v[:1] for k, v in MULTI_REFERENCES.items()}, MULTI_SYSTEM)
    assert multi_direct["cider"] != pytest.approx(first_only["cider"], rel=1e-3)  # the later references count
    assert multi_direct["bleu_4"] > first_only["bleu_4"]


@pytest.mark.slow
def test_score_only_scores_every_reference_of_a_predictions_file(tmp_path, multi_direct):
    lines = [
        {"id": key, "model": "adapter", "reference": refs[0], "references": refs, "prediction": MULTI_SYSTEM[key],
         "status": "ok"}
        for key, refs in MULTI_REFERENCES.items()
    ]  # fmt: skip
    predictions = tmp_path / "run" / "predictions.jsonl"
    predictions.parent.mkdir()
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = score_only(predictions, tmp_path / "scored")
    assert summary["results"]["adapter"]["metrics"] == pytest.approx(multi_direct, abs=1e-9)
    metrics = json.loads((tmp_path / "scored" / "metrics.json").read_text())
    assert metrics["metrics"] == pytest.approx(multi_direct, abs=1e-9)
