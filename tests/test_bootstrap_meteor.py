"""METEOR on bootstrap resamples against brute force: pycocoevalcap's Meteor().compute_score on explicit resamples.

One METEOR JVM for the file (~10 s to start). Captions are already tokenized, as pycocoevalcap's scorers take them.
A resample is written out as a set in which a sample drawn k times appears k times under distinct ids; its corpus
METEOR from compute_score must equal evaluation.bootstrap_meteor's value for the same weights. The set holds what the
JVM's aggregation treats specially: complete matches in one chunk (they add no chunk), a complete match in several
chunks, an empty answer, stem, synonym and paraphrase matches, several references per sample.
"""

import numpy as np
import pytest
from pycocoevalcap.meteor.meteor import Meteor

from evaluation.bootstrap import paired_difference, resample_weights
from evaluation.bootstrap_meteor import (
    BLOCK,
    CHUNKS,
    MeteorProcessError,
    aggregable,
    meteor_statistics,
    resampled_meteor,
)
from evaluation.metrics import java_on_path

GTS = {
    "a": ["a cat sits on a mat", "the cat is on the mat"],
    "b": ["a dog runs in the park", "a brown dog is running across the grass"],
    "c": ["a red ball rolls on grass"],
    "d": ["a man is cooking pasta in a kitchen", "someone cooks pasta"],
    "e": ["two people dance on a stage", "a couple is dancing"],
    "f": ["a car drives down a road at night", "a car on a dark road"],
    "g": ["a woman plays the piano"],
    "h": ["a cat plays with a red ball on the grass"],
    "i": ["children swim in a pool", "kids are swimming"],
    "j": ["a man rides a horse on a beach"],
    "k": ["a girl is reading a book", "a child reads"],
    "l": ["the sun sets over the sea"],
}
SYSTEMS = {
    "mixed": {
        "a": "a cat is on a mat",  # a paraphrase match, complete in one chunk
        "b": "dogs running in a park",  # stems
        "c": "a red ball rolls on grass",  # exact: complete, one chunk
        "d": "a man cooks spaghetti",
        "e": "",  # empty
        "f": "a car a car a car",
        "g": "the piano plays a woman",  # every word matched, in several chunks
        "h": "a kitten plays with a ball",  # synonym
        "i": "children swim in a pool",  # exact
        "j": "a person on a horse",
        "k": "a kid is reading",
        "l": "sunset over the ocean",
    },
    "poor": dict.fromkeys(GTS, "a thing"),
}


@pytest.fixture(scope="module")
def meteor():
    with java_on_path():
        scorer = Meteor()
    yield scorer
    scorer.meteor_p.stdin.close()
    scorer.meteor_p.kill()
    scorer.meteor_p.wait()


def answers(system: str) -> dict[str, list[str]]:
    return {key: [SYSTEMS[system][key]] for key in GTS}


def per_sample(meteor, system: str) -> np.ndarray:
    _, stats = meteor_statistics(meteor, GTS, answers(system))
    return np.stack([stats[key] for key in GTS])


def explicit_resample(weights, system):
    """The resampled set itself: sample i appears weights[i] times, each copy under its own id."""
    gts, res = {}, {}
    for count, key in zip(weights.astype(int), GTS, strict=True):
        for copy in range(count):
            gts[f"{key}#{copy}"] = GTS[key]
            res[f"{key}#{copy}"] = [SYSTEMS[system][key]]
    return gts, res


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_the_corpus_score_is_compute_scores_value(meteor, system):
    score, stats = meteor_statistics(meteor, GTS, answers(system))
    assert score == meteor.compute_score(GTS, answers(system))[0]
    assert list(stats) == list(GTS) and all(row.shape == (23,) for row in stats.values())


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_each_resample_equals_compute_score_on_the_explicit_resample(meteor, system):
    weights = resample_weights(len(GTS), 5, seed=11)
    assert (weights >= 2).any(axis=1).all()  # every resample holds a sample twice or more
    values = resampled_meteor(meteor, per_sample(meteor, system), weights)
    for r, row in enumerate(weights):
        expected = meteor.compute_score(*explicit_resample(row, system))[0]
        assert values[r] == expected, r  # exactly: whole-count statistics sum exactly in Java and numpy


def test_the_whole_set_gives_the_corpus_score(meteor):
    values = resampled_meteor(meteor, per_sample(meteor, "mixed"), np.ones((1, len(GTS))))
    assert values[0] == meteor.compute_score(GTS, answers("mixed"))[0]


def test_a_complete_match_in_one_chunk_adds_no_chunk(meteor):
    stats = per_sample(meteor, "mixed")
    added = aggregable(stats)
    keys = list(GTS)
    changed = {keys[i] for i in np.flatnonzero(added[:, CHUNKS] != stats[:, CHUNKS])}
    assert {"c", "i"} <= changed and "g" not in changed  # exact answers; "g" is complete but in several chunks
    assert (added[:, CHUNKS] == 0)[[keys.index(key) for key in changed]].all()
    assert np.array_equal(np.delete(added, CHUNKS, axis=1), np.delete(stats, CHUNKS, axis=1))


def test_more_resamples_than_one_block_keep_their_order(meteor):
    weights = resample_weights(len(GTS), 7, seed=3)
    repeats = BLOCK // len(weights) + 2  # more lines than one block to the JVM
    stats = per_sample(meteor, "mixed")
    many = resampled_meteor(meteor, stats, np.tile(weights, (repeats, 1)))
    assert np.array_equal(many, np.tile(resampled_meteor(meteor, stats, weights), repeats))


def test_a_system_against_itself_differs_by_exactly_zero_and_a_better_one_is_above(meteor):
    weights = resample_weights(len(GTS), 200)
    mixed, poor = ({"meteor": resampled_meteor(meteor, per_sample(meteor, s), weights)} for s in ("mixed", "poor"))
    assert paired_difference(mixed, mixed, {"meteor": 0.0})["meteor"] == {
        "difference": 0.0,
        "interval": [0.0, 0.0],
        "above_zero": 0.0,
    }
    assert paired_difference(mixed, poor, {"meteor": 0.1})["meteor"]["above_zero"] > 0.9


def test_a_jvm_that_exited_is_one_clear_error(meteor):
    stats = per_sample(meteor, "mixed")
    with java_on_path():
        stopped = Meteor()
    stopped.meteor_p.kill()
    stopped.meteor_p.wait()
    with pytest.raises(MeteorProcessError, match=r"METEOR's Java process exited \(code -9\)"):
        resampled_meteor(stopped, stats, np.ones((1, len(GTS))))
    assert stopped.meteor_p.stdin.closed  # so stopping it (score_systems' finally) raises nothing over this error
