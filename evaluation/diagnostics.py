"""Diagnostics beside the caption metrics: how long and how varied a model's answers are.

Metrics say how close answers are to the references; these say what the answers look like. A model that learnt
one template answers in few distinct words (low distinct-1/2) whatever its BLEU. Words are lower-cased runs of
letters, digits and apostrophes; n-grams never cross from one answer into the next.
"""

import re
from collections.abc import Sequence

DIAGNOSTIC_KEYS = ("mean_words", "distinct_1", "distinct_2")
WORD = re.compile(r"[\w']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def distinct_n(answers: Sequence[list[str]], n: int) -> float | None:
    """Unique n-grams / total n-grams over all ``answers`` (each a list of words); None when there is no n-gram."""
    ngrams = [tuple(answer[i : i + n]) for answer in answers for i in range(len(answer) - n + 1)]
    return len(set(ngrams)) / len(ngrams) if ngrams else None


def caption_diagnostics(predictions: Sequence[str]) -> dict[str, float | None]:
    """{mean_words, distinct_1, distinct_2} of ``predictions`` (empty answers count, as zero words); None when there
    is nothing to measure."""
    answers = [words(prediction) for prediction in predictions]
    return {
        "mean_words": sum(map(len, answers)) / len(answers) if answers else None,
        "distinct_1": distinct_n(answers, 1),
        "distinct_2": distinct_n(answers, 2),
    }
