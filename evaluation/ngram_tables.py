"""1..n-gram count matrices of tokenized captions, built with numpy (no Python loop over n-grams).

    references = reference_tables(sentences, 4)               # sentences: each a list of words
    answers = answer_tables(references, answer_sentences, 4)  # counted over the references' n-gram columns

An n-gram is what pycocoevalcap's precook counts: a tuple of k consecutive words of one whitespace-split sentence.
Words get integer ids; a k-gram's code is ``id of its first k-1 words × V + id of its last word``, and the distinct
codes of the references, sorted, are the k-gram columns. An answer's k-gram is found among them with a binary
search; one that no reference holds is counted apart (CIDEr-D gives it the largest idf, log N).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class ReferenceTables:
    words: dict[str, int]
    codes: list[np.ndarray | None]  # per order: sorted codes of the references' k-grams (None for words)
    counts: list[sparse.csr_matrix]  # per order: sentences x k-gram columns


@dataclass(frozen=True)
class AnswerTables:
    counts: list[sparse.csr_matrix]  # per order: sentences x the references' k-gram columns
    unseen_squares: np.ndarray  # sentences x orders: count² summed over k-grams in no reference
    lengths: np.ndarray  # words per sentence


def _stream(sentences: Sequence[Sequence[str]], word_id) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word id, sentence, position in its sentence) of every word of every sentence."""
    lengths = np.asarray([len(sentence) for sentence in sentences], dtype=np.int64)
    total = int(lengths.sum())
    ids = np.fromiter((word_id(word) for sentence in sentences for word in sentence), dtype=np.int64, count=total)
    sentence = np.repeat(np.arange(len(sentences)), lengths)
    position = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return ids, sentence, position


def _previous(gram: np.ndarray) -> np.ndarray:
    """At each position, the id of the gram ending one word earlier (-1 at the first word)."""
    previous = np.full(len(gram), -1, dtype=np.int64)
    previous[1:] = gram[:-1]
    return previous


def _matrix(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Counts: one per (row, column) pair, duplicates summed."""
    return sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=shape)


def reference_tables(sentences: Sequence[Sequence[str]], n: int) -> ReferenceTables:
    words: dict[str, int] = {}
    ids, sentence, position = _stream(sentences, lambda word: words.setdefault(word, len(words)))
    base = max(len(words), 1)
    gram = ids
    codes: list[np.ndarray | None] = [None]
    counts = [_matrix(sentence, ids, (len(sentences), len(words)))]
    for k in range(2, n + 1):
        valid = position >= k - 1  # a k-gram ends here; the (k-1)-gram before it is in the same sentence
        code = _previous(gram) * base + ids
        unique, inverse = np.unique(code[valid], return_inverse=True)
        gram = np.full(len(ids), -1, dtype=np.int64)
        gram[valid] = inverse
        codes.append(unique)
        counts.append(_matrix(sentence[valid], inverse, (len(sentences), len(unique))))
    return ReferenceTables(words, codes, counts)


def answer_tables(references: ReferenceTables, sentences: Sequence[Sequence[str]], n: int) -> AnswerTables:
    ids, sentence, position = _stream(sentences, lambda word: references.words.get(word, -1))
    own_words: dict[str, int] = {}  # the answers' own ids: to tell apart k-grams that no reference holds
    own_ids, _, _ = _stream(sentences, lambda word: own_words.setdefault(word, len(own_words)))
    base, own_base = max(len(references.words), 1), max(len(own_words), 1)
    rows = len(sentences)
    gram, own_gram, own_size = ids, own_ids, own_base
    counts, unseen = [], np.zeros((rows, n))
    for k in range(1, n + 1):
        valid = position >= k - 1
        if k > 1:
            previous, codes = _previous(gram), references.codes[k - 1]
            known = np.flatnonzero(valid & (previous >= 0) & (ids >= 0))
            code = previous[known] * base + ids[known]
            found = np.searchsorted(codes, code)
            hit = found < len(codes)
            hit[hit] = codes[found[hit]] == code[hit]
            gram = np.full(len(ids), -1, dtype=np.int64)
            gram[known[hit]] = found[hit]
            own_code = _previous(own_gram) * own_base + own_ids
            unique, inverse = np.unique(own_code[valid], return_inverse=True)
            own_gram = np.full(len(ids), -1, dtype=np.int64)
            own_gram[valid] = inverse
            own_size = max(len(unique), 1)
        seen = valid & (gram >= 0)
        counts.append(_matrix(sentence[seen], gram[seen], (rows, references.counts[k - 1].shape[1])))
        missing = valid & (gram < 0)
        pairs, repeats = np.unique(sentence[missing] * own_size + own_gram[missing], return_counts=True)
        unseen[:, k - 1] = np.bincount(pairs // own_size, weights=repeats.astype(float) ** 2, minlength=rows)
    return AnswerTables(counts, unseen, np.bincount(sentence, minlength=rows).astype(float))
