"""A line break inside one caption must not shift every later caption's tokens (pycocoevalcap's PTB tokenizer reads
its input one caption per line, and Java honours more line breaks than ``\\n``).

Identical predictions and references holding CR, VT, FF, NEL, LINE/PARAGRAPH SEPARATOR or the C0 separators score
as clean identical text does: BLEU-4 1.0 and CIDEr-D 10 (x10 scale).
"""

import pytest

from evaluation.metrics import caption_metrics
from evaluation.ptb_tokenizer import TokenizerError, read_tokenized_lines, single_line

# every character Java's PTBLexer or Python's str.splitlines reads as a line break, plus the other whitespace controls
LINE_BREAKS = ("\r", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029", "\t")
CLEAN = [
    "a man is cutting an onion in a kitchen",
    "two dogs run across a green field",
    "a woman plays the piano on a stage",
    "a red car drives down a wet road",
    "children build a sandcastle on the beach",
    "a chef stirs soup in a large pot",
    "a cat jumps onto a wooden table",
    "people walk through a busy market at night",
    "a boy rides a bicycle along the river",
    "a girl paints a flower on a canvas",
    "a plane takes off from a snowy airport",
    "an old man feeds pigeons in a square",
    "a surfer rides a big wave at sunset",
]


@pytest.mark.parametrize("char", LINE_BREAKS, ids=[f"U+{ord(c[-1]):04X}" for c in LINE_BREAKS])
def test_single_line_turns_each_break_into_a_space(char):
    text = single_line(f"a dog{char}runs")
    assert text == "a dog runs"
    assert text.splitlines() == [text]


def test_single_line_keeps_other_text():
    assert single_line("Ünïcode — café, 4k!") == "Ünïcode — café, 4k!"


@pytest.mark.slow  # a JVM scoring pass (~10 s): make test runs it, make test-fast does not
def test_identical_captions_with_line_breaks_score_as_clean_text():
    """One break per sample, early in the set: a split line would pair every later answer with another's tokens."""
    references = {}
    for i, (char, text) in enumerate(zip(LINE_BREAKS, CLEAN, strict=True)):
        first, rest = text.split(" ", 1)
        references[f"s{i:02d}"] = [f"{first}{char}{rest}"]
    systems = {
        "same": {key: refs[0] for key, refs in references.items()},  # the same characters as the references
        "clean": {key: text for key, text in zip(references, CLEAN, strict=True)},  # the words alone
    }
    scores = caption_metrics(references, systems)
    for name in systems:
        assert scores[name]["bleu_4"] == pytest.approx(1.0, abs=1e-6), name
        assert scores[name]["rouge_l"] == pytest.approx(1.0, abs=1e-6), name
        assert scores[name]["cider"] == pytest.approx(10.0, abs=1e-6), name


def test_tokenizer_output_with_another_line_count_is_an_error():
    assert read_tokenized_lines("a b\n\nc d", 3) == ["a b", "", "c d"]
    with pytest.raises(TokenizerError, match="4 lines for 3 captions"):
        read_tokenized_lines("a\nb\nc\nd", 3)
