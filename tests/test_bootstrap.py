"""The bootstrap's resampled corpus metrics against brute force: pycocoevalcap's own scorers run on explicit resamples.

Captions are already tokenized (what pycocoevalcap's scorers take), so no Java is needed. A resample is written out
as a set in which a sample drawn k times appears k times under distinct ids; BLEU, ROUGE-L and CIDEr-D (its IDF from
that set) are then computed by pycocoevalcap and must equal the bootstrap's values for the same weights.
"""

import contextlib
import io

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from evaluation.bootstrap import (
    NO_JAVA_KEYS,
    ReferenceSet,
    SampleStatistics,
    interval,
    paired_difference,
    resample_weights,
    resampled_metrics,
    resampled_metrics_of,
)

GTS = {
    "a": ["a cat sits on a mat", "the cat is on the mat", "a grey cat rests on a rug indoors"],
    "b": ["a dog runs in the park", "a brown dog is running across the grass"],
    "c": ["a red ball rolls on grass"],
    "d": ["a man is cooking pasta in a kitchen", "someone cooks pasta", "a man cooks food"],
    "e": ["two people dance on a stage", "a couple is dancing"],
    "f": ["a car drives down a road at night", "a car on a dark road"],
    "g": ["a woman plays the piano", "a person is playing a piano in a room"],
    "h": ["a cat plays with a red ball on the grass"],
}
SYSTEMS = {
    "good": {
        "a": "a cat is on a mat",
        "b": "a dog is running in the park",
        "c": "a ball rolls on the grass",
        "d": "a man is cooking pasta",
        "e": "a couple dances on a stage",
        "f": "a car drives on a road at night",
        "g": "a woman is playing the piano",
        "h": "a cat plays with a ball",
    },
    "poor": {
        "a": "a cat",
        "b": "an animal outside outside outside",
        "c": "",
        "d": "a man is cooking pasta in a kitchen",
        "e": "people",
        "f": "a car a car a car",
        "g": "music",
        "h": "a red ball on the grass",
    },
}

KEYS = list(GTS)
# each answer is the next sample's reference: its n-grams are private to another sample (df = that sample's weight)
SYSTEMS["swapped"] = {key: GTS[KEYS[(i + 1) % len(KEYS)]][0] for i, key in enumerate(KEYS)}


def pycocoevalcap_scores(gts, res) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores = {f"bleu_{n}": bleu[n - 1] for n in range(1, 5)}
    scores["rouge_l"] = Rouge().compute_score(gts, res)[0]
    scores["cider"] = Cider().compute_score(gts, res)[0]
    return scores


def explicit_resample(weights, ids, system):
    """The resampled set itself: sample i appears weights[i] times, each copy under its own id."""
    gts, res = {}, {}
    for count, key in zip(weights.astype(int), ids, strict=True):
        for copy in range(count):
            gts[f"{key}#{copy}"] = GTS[key]
            res[f"{key}#{copy}"] = [SYSTEMS[system][key]]
    return gts, res


def statistics(system: str) -> SampleStatistics:
    res = {key: [SYSTEMS[system][key]] for key in GTS}
    references = ReferenceSet.build(list(GTS.values()))
    return SampleStatistics.build(references, [SYSTEMS[system][key] for key in GTS], Rouge().compute_score(GTS, res)[1])


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_whole_set_equals_pycocoevalcap(system):
    values = resampled_metrics(statistics(system), np.ones((1, len(GTS))))
    expected = pycocoevalcap_scores(GTS, {key: [SYSTEMS[system][key]] for key in GTS})
    for key in NO_JAVA_KEYS:
        assert values[key][0] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_each_resample_equals_pycocoevalcap_on_the_explicit_resample(system):
    weights = resample_weights(len(GTS), 30, seed=7)
    values = resampled_metrics(statistics(system), weights)
    for r, row in enumerate(weights):
        expected = pycocoevalcap_scores(*explicit_resample(row, list(GTS), system))
        for key in NO_JAVA_KEYS:
            assert values[key][r] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), (r, key)


def test_resample_weights_are_draws_with_replacement_and_fixed_by_the_seed():
    weights = resample_weights(50, 200, seed=3)
    assert weights.shape == (200, 50)
    assert (weights.sum(axis=1) == 50).all()
    assert np.array_equal(weights, resample_weights(50, 200, seed=3))
    assert not np.array_equal(weights, resample_weights(50, 200, seed=4))
    assert (weights == 0).mean() == pytest.approx((1 - 1 / 50) ** 50, abs=0.02)  # ~36.8 % left out each time


def test_interval_holds_the_point_and_is_ordered():
    stats = statistics("good")
    values = resampled_metrics(stats, resample_weights(len(stats), 500))
    point = resampled_metrics(stats, np.ones((1, len(stats))))
    for key in NO_JAVA_KEYS:
        low, high = interval(values[key])
        assert low < high, key
        assert low <= point[key][0] <= high, key


def test_paired_difference_of_a_system_against_itself_is_exactly_zero():
    stats = statistics("good")
    values = resampled_metrics(stats, resample_weights(len(stats), 200))
    paired = paired_difference(values, values, dict.fromkeys(NO_JAVA_KEYS, 0.0))
    for key in NO_JAVA_KEYS:
        assert paired[key] == {"difference": 0.0, "interval": [0.0, 0.0], "above_zero": 0.0}, key


def test_paired_difference_of_a_clearly_better_system():
    weights = resample_weights(len(GTS), 300)
    good, poor = (resampled_metrics(statistics(system), weights) for system in ("good", "poor"))
    point = {key: good[key].mean() - poor[key].mean() for key in NO_JAVA_KEYS}
    paired = paired_difference(good, poor, point)
    assert paired["cider"]["above_zero"] > 0.9
    assert paired["cider"]["interval"][0] < point["cider"] < paired["cider"]["interval"][1]


def test_systems_resampled_together_get_the_values_each_gets_alone():
    weights = resample_weights(len(GTS), 40, seed=1)
    together = resampled_metrics_of({system: statistics(system) for system in SYSTEMS}, weights)
    for system in SYSTEMS:
        alone = resampled_metrics(statistics(system), weights)
        for key in NO_JAVA_KEYS:
            assert np.array_equal(together[system][key], alone[key]), (system, key)


def test_a_difference_within_the_tie_tolerance_is_not_above_zero():
    """Two systems matching no reference bigram: both BLEU-2 are "0" (the smoothing constants leave ~1e-9) and
    differ by ~2e-10 (the longer answers get a smaller brevity penalty), which is a tie, not an improvement."""
    words = [f"w{i}" for i in range(240)]
    references = ReferenceSet.build([[" ".join(words[6 * i : 6 * i + 6])] for i in range(40)])
    skipping = [" ".join(words[6 * i + 5 : 6 * i : -2]) for i in range(40)]  # "w5 w3 w1": no bigram in order
    longer = [f"{answer} unseen" for answer in skipping]
    weights = resample_weights(40, 200)
    shorter_values, longer_values = (
        resampled_metrics(SampleStatistics.build(references, answers, np.zeros(40)), weights)
        for answers in (skipping, longer)
    )
    assert max(shorter_values["bleu_2"].max(), longer_values["bleu_2"].max()) < 1e-8  # both shown as 0.00
    assert (longer_values["bleu_2"] != shorter_values["bleu_2"]).all()
    point = {"bleu_1": 0.0, "bleu_2": 0.0}
    paired = paired_difference(longer_values, shorter_values, point)
    assert paired["bleu_2"]["above_zero"] == 0.0
    assert paired["bleu_1"]["above_zero"] == 1.0  # a real difference still counts: more unigrams guessed, BP higher


def test_a_smoothing_residue_that_shows_as_zero_is_a_tie_against_a_model_matching_nothing():
    """One system matches reference words but no bigram, the other matches nothing: BLEU-1 differs for real, while
    both BLEU-2 are "0.00" in the table, the first one's smoothing residue (~1e-9, scaled by its unigram precision)
    above the second's. Such a difference, below what the table shows, is a tie, not a win in most resamples."""
    words = [f"w{i}" for i in range(240)]
    references = ReferenceSet.build([[" ".join(words[6 * i : 6 * i + 6])] for i in range(40)])
    skipping = [" ".join(words[6 * i + 5 : 6 * i : -2]) for i in range(40)]  # "w5 w3 w1": no bigram in order
    unseen = [f"x{i} y{i} z{i}" for i in range(40)]
    weights = resample_weights(40, 200)
    skipping_values, unseen_values = (
        resampled_metrics(SampleStatistics.build(references, answers, np.zeros(40)), weights)
        for answers in (skipping, unseen)
    )
    differences = skipping_values["bleu_2"] - unseen_values["bleu_2"]
    assert (differences > 1e-9).all() and (differences < 5e-5).all()  # a residue, shown as +0.00
    paired = paired_difference(skipping_values, unseen_values, {"bleu_1": 0.5, "bleu_2": 0.0})
    assert paired["bleu_2"]["above_zero"] == 0.0
    assert paired["bleu_1"]["above_zero"] == 1.0
