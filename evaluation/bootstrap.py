"""Bootstrap confidence intervals for the corpus caption metrics, and paired differences between two systems.

    from evaluation.bootstrap import SampleStatistics, resample_weights, resampled_metrics, interval
    stats = SampleStatistics.build(gts, res, rouge_per_sample)   # gts/res PTB-tokenized, as pycocoevalcap takes them
    weights = resample_weights(len(stats), 1000, seed=0)           # (1000, n): how often each sample is drawn
    values = resampled_metrics(stats, weights)                     # metric key -> 1000 corpus values

A resample draws n samples with replacement; each metric is the corpus metric recomputed on that multiset, exactly
as pycocoevalcap would compute it on the explicit resampled set (a sample drawn twice counts twice), without running
pycocoevalcap 1,000 times:

- BLEU-1..4: corpus BLEU only sums per-sample clipped n-gram matches, n-gram counts, hypothesis lengths and closest
  reference lengths, so a resample's totals are ``weights @ per-sample statistics``;
- ROUGE-L: pycocoevalcap's corpus value is the mean of per-sample scores, so a resample's is their weighted mean;
- CIDEr-D: a sample's score depends on every n-gram's document frequency over the resampled set,
  ``df(g) = sum_i w_i [g in refs_i]``, so it is recomputed per resample with sparse matrices: with
  ``idf = log(n) - log(max(1, df)) >= 0`` pycocoevalcap's clipped dot product ``min(h·idf, r·idf)·r·idf`` equals
  ``min(h, r)·r·idf²``, and the norms are ``sqrt(h²·idf²)``, so each is one sparse product with ``idf²`` per order;
- METEOR: no interval. pycocoevalcap's METEOR 1.5 corpus score is computed by the Java tool from statistics it
  aggregates over the whole set, not as a mean of per-sample scores, and those statistics are not reproduced here.

Intervals are percentile intervals (2.5th and 97.5th percentile of the resampled values for 95 %). A paired
difference uses the same resamples for both systems, so a system against itself differs by exactly 0.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
CONFIDENCE = 0.95
INTERVAL_KEYS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider")  # metrics that get an interval
NO_INTERVAL = {
    "meteor": "no interval: pycocoevalcap's METEOR 1.5 corpus score is computed by its Java tool from statistics "
    "aggregated over the whole set, which the bootstrap does not reproduce"
}
BLEU_N = 4
CIDER_N, CIDER_SIGMA = 4, 6.0  # pycocoevalcap's Cider() defaults (CIDEr-D)
CHUNK = 25  # resamples per CIDEr-D block: bounds the dense (n-grams x CHUNK) document-frequency matrix


def _ngram_counts(sentence: str, n: int) -> dict[tuple[str, ...], int]:
    """pycocoevalcap's precook: every 1..n-gram of the whitespace-split sentence with its count."""
    words = sentence.split()
    counts: dict[tuple[str, ...], int] = {}
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            gram = tuple(words[i : i + k])
            counts[gram] = counts.get(gram, 0) + 1
    return counts


def bleu_statistics(references: list[str], hypothesis: str) -> list[float]:
    """[hypothesis length, closest reference length, guessed 1..4-grams, clipped matches 1..4] as pycocoevalcap's
    BleuScorer counts them (closest: the nearest length, the shorter on a tie)."""
    max_counts: dict[tuple[str, ...], int] = {}
    lengths = []
    for reference in references:
        lengths.append(len(reference.split()))
        for gram, count in _ngram_counts(reference, BLEU_N).items():
            max_counts[gram] = max(max_counts.get(gram, 0), count)
    test_length = len(hypothesis.split())
    closest = min((abs(length - test_length), length) for length in lengths)[1]
    guess = [max(0, test_length - k + 1) for k in range(1, BLEU_N + 1)]
    correct = [0] * BLEU_N
    for gram, count in _ngram_counts(hypothesis, BLEU_N).items():
        correct[len(gram) - 1] += min(max_counts.get(gram, 0), count)
    return [test_length, closest, *guess, *correct]


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
class CiderTables:
    """Sparse n-gram tables of one system's answers and the references, one entry per n-gram order."""

    in_references: list[sparse.csr_matrix]  # samples x grams: 1 where the gram is in any of the sample's references
    clipped: list[sparse.csr_matrix]  # references x grams: min(hyp count, ref count) * ref count
    hypothesis_squares: list[sparse.csr_matrix]  # samples x grams: hyp count²
    reference_squares: list[sparse.csr_matrix]  # references x grams: ref count²
    reference_sample: np.ndarray  # references -> index of their sample
    reference_weight: np.ndarray  # 10 / (n orders * references of the sample) * the length penalty

    @classmethod
    def build(cls, references: list[list[str]], hypotheses: list[str]) -> "CiderTables":
        columns: list[dict[tuple[str, ...], int]] = [{} for _ in range(CIDER_N)]

        def triplets():
            return [([], [], []) for _ in range(CIDER_N)]  # rows, columns, values per order

        doc, hyp, ref = triplets(), triplets(), triplets()
        reference_sample, reference_weight = [], []
        for i, (refs, hypothesis) in enumerate(zip(references, hypotheses, strict=True)):
            hyp_counts = _ngram_counts(hypothesis, CIDER_N)
            hyp_length = max(len(hypothesis.split()) - 1, 0)  # pycocoevalcap's length: the number of bigrams
            seen: set[tuple[str, ...]] = set()
            for reference in refs:
                row = len(reference_sample)
                reference_sample.append(i)
                delta = hyp_length - max(len(reference.split()) - 1, 0)
                gauss = math.e ** (-(delta**2) / (2 * CIDER_SIGMA**2))
                reference_weight.append(10.0 / (CIDER_N * len(refs)) * gauss)
                for gram, count in _ngram_counts(reference, CIDER_N).items():
                    order = len(gram) - 1
                    column = columns[order].setdefault(gram, len(columns[order]))
                    ref[order][0].append(row)
                    ref[order][1].append(column)
                    ref[order][2].append(count)
                    if gram not in seen:
                        seen.add(gram)
                        doc[order][0].append(i)
                        doc[order][1].append(column)
                        doc[order][2].append(1.0)
            for gram, count in hyp_counts.items():
                order = len(gram) - 1
                column = columns[order].setdefault(gram, len(columns[order]))
                hyp[order][0].append(i)
                hyp[order][1].append(column)
                hyp[order][2].append(count)
        samples, rows = len(hypotheses), len(reference_sample)
        sample_of_row = np.asarray(reference_sample, dtype=np.int64)

        def matrix(triplet, shape_rows, order):
            rows_, cols, values = triplet[order]
            shape = (shape_rows, len(columns[order]))
            return sparse.csr_matrix((np.asarray(values, dtype=np.float64), (rows_, cols)), shape=shape)

        in_refs, clipped, hyp_sq, ref_sq = [], [], [], []
        for order in range(CIDER_N):
            hypothesis_counts = matrix(hyp, samples, order)
            reference_counts = matrix(ref, rows, order)
            in_refs.append(matrix(doc, samples, order))
            clipped.append(
                sparse.csr_matrix(hypothesis_counts[sample_of_row].minimum(reference_counts).multiply(reference_counts))
            )
            hyp_sq.append(sparse.csr_matrix(hypothesis_counts.power(2)))
            ref_sq.append(sparse.csr_matrix(reference_counts.power(2)))
        return cls(in_refs, clipped, hyp_sq, ref_sq, sample_of_row, np.asarray(reference_weight))

    def sample_scores(self, weights: np.ndarray) -> np.ndarray:
        """(resamples, samples) weights -> (resamples, samples) per-sample CIDEr-D with each resample's IDF."""
        log_n = np.log(weights.sum(axis=1))  # the resampled set's size, n for every resample
        per_reference = np.zeros((len(self.reference_sample), len(weights)))
        for order in range(CIDER_N):
            document_frequency = np.asarray(self.in_references[order].T @ weights.T)  # grams x resamples
            idf_squared = (log_n - np.log(np.maximum(1.0, document_frequency))) ** 2
            dot = np.asarray(self.clipped[order] @ idf_squared)
            hyp_norm = np.sqrt(np.asarray(self.hypothesis_squares[order] @ idf_squared))[self.reference_sample]
            ref_norm = np.sqrt(np.asarray(self.reference_squares[order] @ idf_squared))
            both = (hyp_norm != 0) & (ref_norm != 0)
            per_reference += np.where(both, dot / np.where(both, hyp_norm * ref_norm, 1.0), dot)
        per_reference *= self.reference_weight[:, None]
        samples = weights.shape[1]
        scores = np.zeros((samples, len(weights)))
        np.add.at(scores, self.reference_sample, per_reference)
        return scores.T


@dataclass(frozen=True)
class SampleStatistics:
    """Everything one system's resampled corpus metrics need, per sample, in the order of the scored ids."""

    bleu: np.ndarray  # samples x 10 (see bleu_statistics)
    rouge_l: np.ndarray  # samples: pycocoevalcap's per-sample ROUGE-L
    cider: CiderTables

    @classmethod
    def build(cls, gts: Mapping[str, list[str]], res: Mapping[str, list[str]], rouge_l) -> "SampleStatistics":
        """``gts``/``res`` as given to pycocoevalcap (tokenized; res has one answer per id); ``rouge_l`` the
        per-sample scores Rouge().compute_score returned for them, in the same id order."""
        ids = list(gts)
        references = [list(gts[key]) for key in ids]
        hypotheses = [res[key][0] for key in ids]
        bleu = np.asarray([bleu_statistics(r, h) for r, h in zip(references, hypotheses, strict=True)], dtype=float)
        return cls(bleu, np.asarray(rouge_l, dtype=float), CiderTables.build(references, hypotheses))

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
    """Metric key -> the corpus metric on each resample (``weights`` from resample_weights, or all ones: the set)."""
    bleu = bleu_from_totals(weights @ stats.bleu)
    sizes = weights.sum(axis=1)
    cider = np.concatenate(
        [
            (block * stats.cider.sample_scores(block)).sum(axis=1) / block.sum(axis=1)
            for block in np.array_split(weights, max(1, math.ceil(len(weights) / CHUNK)))
        ]
    )
    values = {f"bleu_{n}": bleu[:, n - 1] for n in range(1, BLEU_N + 1)}
    values["rouge_l"] = weights @ stats.rouge_l / sizes
    values["cider"] = cider
    return values


def interval(values: np.ndarray, confidence: float = CONFIDENCE) -> list[float]:
    """[low, high]: the percentile interval of the resampled values."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def paired_difference(
    first: Mapping[str, np.ndarray], second: Mapping[str, np.ndarray], point: Mapping[str, float]
) -> dict[str, dict[str, float | list[float]]]:
    """Metric -> {"difference": first − second on the whole set (``point``), "interval": of the resampled
    differences, "above_zero": share of resamples in which first − second > 0}; both on the same resamples."""
    result = {}
    for key in INTERVAL_KEYS:
        differences = first[key] - second[key]
        result[key] = {
            "difference": float(point[key]),
            "interval": interval(differences),
            "above_zero": float(np.mean(differences > 0)),
        }
    return result
