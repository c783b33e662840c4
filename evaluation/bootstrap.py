"""Bootstrap confidence intervals for the corpus caption metrics, and paired differences between two systems.

    from evaluation.bootstrap import ReferenceSet, SampleStatistics, resample_weights, resampled_metrics, interval
    references = ReferenceSet.build([gts[key] for key in ids])     # PTB-tokenized, as pycocoevalcap takes them
    stats = SampleStatistics.build(references, [res[key][0] for key in ids], rouge_per_sample)
    weights = resample_weights(len(ids), 1000, seed=0)             # (1000, n): how often each sample is drawn
    values = resampled_metrics(stats, weights)                     # metric key -> 1000 corpus values
    interval(values["cider"])                                      # [low, high]

A resample draws n samples with replacement; each metric is the corpus metric recomputed on that multiset, exactly
as pycocoevalcap would compute it on the explicit resampled set (a sample drawn twice counts twice), without running
pycocoevalcap 1,000 times:

- BLEU-1..4: corpus BLEU only sums per-sample clipped n-gram matches, n-gram counts, hypothesis lengths and closest
  reference lengths, so a resample's totals are ``weights @ per-sample statistics`` (counted once, as sparse
  matrices, by evaluation.ngram_tables);
- ROUGE-L: pycocoevalcap's corpus value is the mean of per-sample scores, so a resample's is their weighted mean;
- CIDEr-D: a sample's score depends on every n-gram's document frequency over the resampled set,
  ``df(g) = sum_i w_i [g in refs_i]``, so every sample's score is recomputed on every resample with sparse
  matrices (evaluation.bootstrap_cider);
- METEOR 1.5: the Java tool's corpus score is computed from the SUM of per-sample statistics (match counts per
  stage, lengths, chunks), so a resample's is the score of ``weights @ per-sample statistics``, which the same
  METEOR JVM computes (evaluation.bootstrap_meteor).

Intervals are percentile intervals (2.5th and 97.5th percentile of the resampled values for 95 %). A paired
difference uses the same resamples for both systems, so a system against itself differs by exactly 0; a resampled
difference within TIE_TOLERANCE of 0 is a tie, not above zero.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from evaluation.bootstrap_cider import CIDER_N, CiderReferences, CiderSystem, resampled_cider
from evaluation.ngram_tables import AnswerTables, ReferenceTables, answer_tables, reference_tables

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
CONFIDENCE = 0.95
INTERVAL_KEYS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")  # every metric gets one
NO_JAVA_KEYS = tuple(key for key in INTERVAL_KEYS if key != "meteor")  # resampled here; METEOR needs its JVM
# A resampled difference smaller than this (absolute) is a tie: half the last digit the tables show (scores are
# fractions, shown x100 with 2 decimals), so a difference shown as +0.00 never counts as a win. BLEU's smoothing
# constants (1e-9, 1e-15) leave a "zero" BLEU-n at a residue that grows with the lower orders' precisions (~1e-9 for
# BLEU-2, more for BLEU-4), and two such zeros differ by that residue (tests/test_bootstrap.py).
TIE_TOLERANCE = 5e-5
BLEU_N = 4


def bleu_from_totals(totals: np.ndarray) -> np.ndarray:
    """(..., 10) summed statistics -> (..., 4) corpus BLEU-1..4, pycocoevalcap's formula and constants."""
    small, tiny = 1e-9, 1e-15
    test_length, reference_length = totals[..., 0], totals[..., 1]
    guess, correct = totals[..., 2 : 2 + BLEU_N], totals[..., 2 + BLEU_N :]
    precisions = (correct + tiny) / (guess + small)
    bleus = np.cumprod(precisions, axis=-1) ** (1.0 / np.arange(1, BLEU_N + 1))
    ratio = (test_length + tiny) / (reference_length + small)
    with np.errstate(divide="ignore"):
        penalty = np.where(ratio < 1, np.exp(1 - 1 / np.where(ratio < 1, ratio, 1.0)), 1.0)
    return bleus * penalty[..., None]


@dataclass(frozen=True)
class ReferenceSet:
    """The scored samples' references (tokenized), counted once for every system scored against them."""

    tables: ReferenceTables  # n-gram counts of every reference (rows: references, sample by sample)
    lengths: list[list[int]]  # sample -> its references' lengths in words
    longest: list[sparse.csr_matrix]  # per order: samples x n-grams, the largest count in any one reference (BLEU)
    cider: CiderReferences

    @classmethod
    def build(cls, references: Sequence[Sequence[str]]) -> "ReferenceSet":
        """``references``: each sample's tokenized references, in the order the answers will come."""
        sentences = [reference.split() for refs in references for reference in refs]
        tables = reference_tables(sentences, CIDER_N)
        per_sample = np.asarray([len(refs) for refs in references])
        reference_sample = np.repeat(np.arange(len(references)), per_sample)
        slot = np.arange(len(sentences)) - np.repeat(np.cumsum(per_sample) - per_sample, per_sample)
        longest = []
        for counts in tables.counts:
            largest = sparse.csr_matrix((len(references), counts.shape[1]))
            for index in range(int(per_sample.max(initial=0))):  # the index-th reference of every sample at once
                rows = np.flatnonzero(slot == index)
                placed = sparse.csr_matrix(
                    (np.ones(len(rows)), (reference_sample[rows], np.arange(len(rows)))),
                    shape=(len(references), len(rows)),
                )
                largest = largest.maximum(placed @ counts[rows])
            longest.append(sparse.csr_matrix(largest))
        lengths = [len(sentence) for sentence in sentences]
        grouped = np.split(np.asarray(lengths, dtype=np.int64), np.cumsum(per_sample)[:-1])
        cider = CiderReferences.build(
            tables.counts, reference_sample, np.asarray(lengths, dtype=float), len(references)
        )
        return cls(tables, [group.tolist() for group in grouped], longest, cider)

    def __len__(self) -> int:
        return len(self.lengths)


def bleu_statistics(references: ReferenceSet, answers: AnswerTables) -> np.ndarray:
    """samples x [answer length, closest reference length, guessed 1..4-grams, clipped matches 1..4], as
    pycocoevalcap's BleuScorer counts them (closest: the nearest length, the shorter on a tie; a match is clipped
    at the largest count of the n-gram in any one reference)."""
    test_length = answers.lengths
    closest = [
        min((abs(length - test), length) for length in lengths)[1]
        for lengths, test in zip(references.lengths, test_length.tolist(), strict=True)
    ]
    guess = [np.maximum(0, test_length - k + 1) for k in range(1, BLEU_N + 1)]
    correct = [np.asarray(answers.counts[k].minimum(references.longest[k]).sum(axis=1)).ravel() for k in range(BLEU_N)]
    return np.column_stack([test_length, np.asarray(closest, dtype=float), *guess, *correct])


@dataclass(frozen=True)
class SampleStatistics:
    """Everything one system's resampled corpus metrics need, per sample, in the order of the reference set."""

    bleu: np.ndarray  # samples x 10 (see bleu_statistics)
    rouge_l: np.ndarray  # samples: pycocoevalcap's per-sample ROUGE-L
    cider: CiderSystem

    @classmethod
    def build(cls, references: ReferenceSet, answers: Sequence[str], rouge_l) -> "SampleStatistics":
        """``answers``: tokenized, one per sample, in the reference set's order; ``rouge_l``: the per-sample scores
        pycocoevalcap's Rouge().compute_score returned for them, in the same order."""
        tables = answer_tables(references.tables, [answer.split() for answer in answers], CIDER_N)
        cider = CiderSystem.build(references.cider, tables.counts, tables.unseen_squares, tables.lengths)
        return cls(bleu_statistics(references, tables), np.asarray(rouge_l, dtype=float), cider)

    def __len__(self) -> int:
        return len(self.rouge_l)


def resample_weights(samples: int, resamples: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """(resamples, samples) float counts: how often each sample is drawn when drawing ``samples`` with replacement."""
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, samples, size=(resamples, samples))
    weights = np.zeros((resamples, samples))
    np.add.at(weights, (np.arange(resamples)[:, None], drawn), 1.0)
    return weights


def resampled_metrics(stats: SampleStatistics, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Metric key (NO_JAVA_KEYS) -> the corpus metric on each resample (``weights`` from resample_weights, or all
    ones: the set); METEOR's come from evaluation.bootstrap_meteor."""
    return resampled_metrics_of({"system": stats}, weights)["system"]


def resampled_metrics_of(
    systems: Mapping[str, SampleStatistics], weights: np.ndarray
) -> dict[str, dict[str, np.ndarray]]:
    """System -> metric key (NO_JAVA_KEYS) -> values on each resample, for systems scored against one ReferenceSet."""
    sizes = weights.sum(axis=1)
    cider = dict(zip(systems, resampled_cider([stats.cider for stats in systems.values()], weights), strict=True))
    result = {}
    for name, stats in systems.items():
        bleu = bleu_from_totals(weights @ stats.bleu)
        values = {f"bleu_{n}": bleu[:, n - 1] for n in range(1, BLEU_N + 1)}
        values["rouge_l"] = weights @ stats.rouge_l / sizes
        values["cider"] = cider[name]
        result[name] = values
    return result


def interval(values: np.ndarray, confidence: float = CONFIDENCE) -> list[float]:
    """[low, high]: the percentile interval of the resampled values."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def paired_difference(
    first: Mapping[str, np.ndarray], second: Mapping[str, np.ndarray], point: Mapping[str, float]
) -> dict[str, dict[str, float | list[float]]]:
    """Metric (each key of ``point``) -> {"difference": first − second on the whole set (``point``), "interval":
    of the resampled differences, "above_zero": share of resamples in which first − second > TIE_TOLERANCE};
    both on the same resamples."""
    result = {}
    for key, difference in point.items():
        differences = first[key] - second[key]
        result[key] = {
            "difference": float(difference),
            "interval": interval(differences),
            "above_zero": float(np.mean(differences > TIE_TOLERANCE)),
        }
    return result
