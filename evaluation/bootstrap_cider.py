"""CIDEr-D on bootstrap resamples, exactly as pycocoevalcap computes it on the resampled set, with sparse matrices.

pycocoevalcap's CIDEr-D (Cider(): n = 4, sigma = 6) gives a sample the mean over its references of
``sum_n cos_n(hyp, ref) · exp(-(len_h - len_r)² / 2σ²)`` × 10 / n, where the n-gram vectors are term counts × idf,
``idf(g) = log(N) - log(max(1, df(g)))`` over the scored set of N samples, and the dot product is clipped:
``min(h·idf, r·idf)·r·idf``. On a resample with weights w (sample i drawn w_i times) ``df(g) = sum_i w_i [g in
refs_i]`` and N = sum w. Since df ≤ N, idf ≥ 0 and the clipped product is ``min(h, r)·r·idf²``; both norms are
``sqrt(count²·idf²)``. So each of the three per order is a sparse matrix times the ``idf²`` vector of the resample.

Two exact shortcuts keep that cheap. An n-gram in the references of one sample only (most 3- and 4-grams) has
``df = w_owner``, so its ``idf²`` is ``f(w_owner) = (log N - log max(1, w_owner))²``: such columns are summed per
owning sample once, and a resample needs only ``f`` of its weights. An answer's n-gram in no reference has df = 0 and
``idf² = log(N)²``: its squared counts are summed per sample once. Only n-grams shared by several samples' references
take a row of the dense document-frequency matrix.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

CIDER_N, CIDER_SIGMA = 4, 6.0  # pycocoevalcap's Cider() defaults (CIDEr-D)
BLOCK_ELEMENTS = 2_000_000  # resamples per block x the widest dense array (references or shared n-grams): ~16 MB each
MAX_BLOCK = 200


def _csr(rows, columns, values, shape) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.asarray(values, dtype=np.float64), (rows, columns)), shape=shape)


@dataclass(frozen=True)
class Split:
    """A matrix over one order's reference n-grams, as shared columns and private columns summed per owner."""

    shared: sparse.csr_matrix  # rows x shared n-grams
    owned: sparse.csr_matrix  # rows x samples: the private n-grams' values summed per owning sample

    def times_idf_squared(self, shared_idf_squared: np.ndarray, owner_idf_squared: np.ndarray) -> np.ndarray:
        """rows x resamples: the matrix times each resample's idf² (shared columns, then owners' f(w))."""
        return np.asarray(self.shared @ shared_idf_squared) + np.asarray(self.owned @ owner_idf_squared)


@dataclass(frozen=True)
class CiderReferences:
    """The reference side, built once per test set and shared by every system scored on it."""

    shared: list[np.ndarray]  # per order: column indices of n-grams in several samples' references
    private: list[np.ndarray]  # per order: column indices of n-grams in one sample's references
    in_references: list[sparse.csr_matrix]  # per order: samples x shared columns, 1 where in the sample's refs
    owner: list[sparse.csr_matrix]  # per order: private columns x samples, 1 at the owning sample
    counts: list[sparse.csr_matrix]  # per order: references x columns, term counts
    reference_sample: np.ndarray  # reference row -> its sample
    reference_bigrams: np.ndarray  # reference row -> pycocoevalcap's length (its number of bigrams)
    references_per_sample: np.ndarray

    @classmethod
    def build(
        cls, counts: Sequence[sparse.csr_matrix], reference_sample: np.ndarray, lengths: np.ndarray, samples: int
    ) -> "CiderReferences":
        """``counts``: per order, references x n-grams (evaluation.ngram_tables); ``reference_sample``: each
        reference's sample; ``lengths``: each reference's length in words."""
        rows = len(reference_sample)
        to_sample = _csr(reference_sample, np.arange(rows), np.ones(rows), (samples, rows))
        shared, private, in_refs, owner = [], [], [], []
        for order in range(CIDER_N):
            present = counts[order].copy()
            present.data[:] = 1.0
            documents = sparse.csr_matrix(to_sample @ present)  # samples x n-grams: references holding it
            documents.data[:] = 1.0
            frequency = np.asarray(documents.sum(axis=0)).ravel()
            shared.append(np.flatnonzero(frequency >= 2))
            private.append(np.flatnonzero(frequency < 2))
            in_refs.append(sparse.csr_matrix(documents[:, shared[-1]]))
            owner.append(sparse.csr_matrix(documents[:, private[-1]].T))
        per_sample = np.bincount(reference_sample, minlength=samples).astype(float)
        bigrams = np.maximum(lengths - 1, 0)
        return cls(shared, private, in_refs, owner, list(counts), reference_sample, bigrams, per_sample)

    def split(self, order: int, matrix: sparse.csr_matrix) -> Split:
        """``matrix`` (rows x this order's columns) as shared columns and private columns summed per owner."""
        matrix = sparse.csc_matrix(matrix)
        return Split(
            sparse.csr_matrix(matrix[:, self.shared[order]]),
            sparse.csr_matrix(matrix[:, self.private[order]] @ self.owner[order]),
        )


@dataclass(frozen=True)
class CiderSystem:
    """One system's answers against the references: what its per-sample CIDEr-D needs on any resample."""

    references: CiderReferences
    overlapping: list[np.ndarray]  # per order: the references sharing an n-gram with their sample's answer
    clipped: list[Split]  # per order: overlapping references x columns, min(answer count, ref count) * ref count
    reference_squares: list[Split]  # per order: overlapping references x columns, reference count²
    answer_squares: list[Split]  # per order: samples x columns, answer count²
    unseen_squares: np.ndarray  # samples x orders: answer count² summed over n-grams in no reference (idf = log N)
    reference_weight: np.ndarray  # reference row -> 10 / (orders · references of its sample) · length penalty

    @classmethod
    def build(
        cls,
        references: CiderReferences,
        counts: Sequence[sparse.csr_matrix],
        unseen_squares: np.ndarray,
        lengths: np.ndarray,
    ) -> "CiderSystem":
        """``counts``: per order, samples x the references' n-grams; ``unseen_squares``: samples x orders, count²
        over n-grams in no reference; ``lengths``: answers' lengths in words (evaluation.ngram_tables)."""
        overlapping, clipped, reference_squares, answer_squares = [], [], [], []
        for order in range(CIDER_N):
            answer_counts = counts[order]
            reference_counts = references.counts[order]
            product = sparse.csr_matrix(
                answer_counts[references.reference_sample].minimum(reference_counts).multiply(reference_counts)
            )
            product.eliminate_zeros()
            # a reference sharing no n-gram of this order with the answer adds exactly 0 for it on every resample
            rows = np.flatnonzero(np.diff(product.indptr))
            overlapping.append(rows)
            clipped.append(references.split(order, product[rows]))
            reference_squares.append(references.split(order, reference_counts[rows].power(2)))
            answer_squares.append(references.split(order, answer_counts.power(2)))
        answer_bigrams = np.maximum(np.asarray(lengths, dtype=float) - 1, 0)
        delta = answer_bigrams[references.reference_sample] - references.reference_bigrams
        penalty = np.e ** (-(delta**2) / (2 * CIDER_SIGMA**2))
        weight = 10.0 / (CIDER_N * references.references_per_sample[references.reference_sample]) * penalty
        return cls(
            references, overlapping, clipped, reference_squares, answer_squares, np.asarray(unseen_squares), weight
        )

    def sample_scores(self, weights: np.ndarray, terms: "ResampleTerms | None" = None) -> np.ndarray:
        """(resamples, samples) weights -> (resamples, samples) per-sample CIDEr-D with each resample's IDF;
        ``terms``: the reference side of these resamples when already computed (shared by every system)."""
        refs = self.references
        terms = terms or ResampleTerms.of(refs, weights)
        per_reference = np.zeros((len(refs.reference_sample), len(weights)))
        for order in range(CIDER_N):
            idf_squared, owners = terms.idf_squared[order], terms.owner_idf_squared
            rows = self.overlapping[order]
            dot = self.clipped[order].times_idf_squared(idf_squared, owners)  # overlapping refs x resamples
            answer_norm = self.answer_squares[order].times_idf_squared(idf_squared, owners)
            answer_norm += self.unseen_squares[:, order, None] * terms.log_n**2
            norms = np.sqrt(answer_norm)[refs.reference_sample[rows]]
            norms *= np.sqrt(self.reference_squares[order].times_idf_squared(idf_squared, owners))
            # a zero norm means every weighted count of that side is 0, so the clipped product is 0 as well:
            # pycocoevalcap then leaves it undivided, which is the same 0
            norms[norms == 0] = 1.0
            dot /= norms
            per_reference[rows] += dot
        rows = len(refs.reference_sample)
        per_sample = _csr(refs.reference_sample, np.arange(rows), self.reference_weight, (weights.shape[1], rows))
        return np.asarray(per_sample @ per_reference).T  # each sample: its references' weighted sum


@dataclass(frozen=True)
class ResampleTerms:
    """What a block of resamples gives every system alike: idf² of shared n-grams, and f(w) of owners."""

    log_n: np.ndarray  # resamples
    owner_idf_squared: np.ndarray  # samples x resamples: (log N - log max(1, w_i))²
    idf_squared: list[np.ndarray]  # per order: shared n-grams x resamples

    @classmethod
    def of(cls, refs: CiderReferences, weights: np.ndarray) -> "ResampleTerms":
        log_n = np.log(weights.sum(axis=1))  # log of the resampled set's size
        weights_t = np.ascontiguousarray(weights.T)  # samples x resamples (scipy copies a transposed view per use)
        owner_idf_squared = (log_n - np.log(np.maximum(1.0, weights_t))) ** 2
        idf_squared = []
        for order in range(CIDER_N):
            frequency = np.asarray(refs.in_references[order].T @ weights_t)  # shared n-grams x resamples
            idf_squared.append((log_n - np.log(np.maximum(1.0, frequency))) ** 2)
        return cls(log_n, owner_idf_squared, idf_squared)


def resampled_cider(systems: Sequence[CiderSystem], weights: np.ndarray) -> list[np.ndarray]:
    """Each system's corpus CIDEr-D (the weighted mean of per-sample scores) on each resample; the systems share
    one reference set, whose terms are computed once per block of resamples."""
    refs = systems[0].references
    widest = max(len(refs.reference_sample), *(len(shared) for shared in refs.shared))
    block = max(1, min(MAX_BLOCK, BLOCK_ELEMENTS // widest))
    values: list[list[np.ndarray]] = [[] for _ in systems]
    for part in np.array_split(weights, max(1, math.ceil(len(weights) / block))):
        terms = ResampleTerms.of(refs, part)
        for index, system in enumerate(systems):
            values[index].append((part * system.sample_scores(part, terms)).sum(axis=1) / part.sum(axis=1))
    return [np.concatenate(parts) for parts in values]
