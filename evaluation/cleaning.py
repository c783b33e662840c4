"""Turn raw generated text into the caption that is scored, and flag answers that are empty or repetitive.

Empty answers are kept (they score zero) and counted; skipping them would inflate every metric.
"""

import re
import unicodedata
from collections.abc import Iterable

# Role prefixes a chat model sometimes echoes at the start of its answer ("assistant\n", "Assistant: ").
ROLE_PREFIX = re.compile(r"^\s*(?:<\|im_start\|>)?\s*(?:assistant|system|user)\s*(?::|\n)\s*", re.IGNORECASE)
# Special tokens that survive decoding as text, e.g. "<|im_end|>", "<|endoftext|>", "<|video_pad|>".
SPECIAL_TOKEN_TEXT = re.compile(r"<\|[a-z_]+\|>")
# An n-gram (n = 1..4 words) repeated this many times in a row marks a degenerate answer.
MIN_CONSECUTIVE_REPEATS = 3
MAX_REPEATED_NGRAM = 4
# A long answer using fewer distinct words than this share of its words is repetitive too.
MIN_DISTINCT_WORD_RATIO = 0.4
MIN_WORDS_FOR_RATIO = 8
# A run-on with no spaces ("upupupupupup"): a 1-8 character unit repeated 5+ times in a row.
CHARACTER_LOOP = re.compile(r"(.{1,8}?)\1{4,}")


def clean_answer(text: str, special_tokens: Iterable[str] = ()) -> str:
    """Strip special tokens, control characters, a leading role prefix and surrounding / repeated whitespace."""
    for token in special_tokens:
        text = text.replace(token, " ")
    text = SPECIAL_TOKEN_TEXT.sub(" ", text)
    text = ROLE_PREFIX.sub("", text)
    # control characters and U+FFFD (a byte-level BPE cut mid-character) are not caption text
    text = "".join(" " if unicodedata.category(c) == "Cc" or c == "\ufffd" else c for c in text)
    return " ".join(text.split())


def is_repetitive(text: str) -> bool:
    """True when some 1–4 word n-gram repeats 3+ times in a row, a long answer has few distinct words, or a
    short unit of characters loops with no spaces."""
    if CHARACTER_LOOP.search(text.lower()):
        return True
    words = text.lower().split()
    for n in range(1, MAX_REPEATED_NGRAM + 1):
        span = n * MIN_CONSECUTIVE_REPEATS
        for start in range(len(words) - span + 1):
            ngram = words[start : start + n]
            if all(words[start + k * n : start + (k + 1) * n] == ngram for k in range(1, MIN_CONSECUTIVE_REPEATS)):
                return True
    return len(words) >= MIN_WORDS_FOR_RATIO and len(set(words)) / len(words) < MIN_DISTINCT_WORD_RATIO
