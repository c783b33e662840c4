"""Read the sample captions' attributes back out of a caption: colour, shape, direction, background.

    from data.sample_attributes import parse_attributes, attribute_accuracy
    parse_attributes("A red circle moves left on a blue background")
    # -> {"colour": "red", "shape": "circle", "direction": "left", "background": "blue"}
    attribute_accuracy([(prediction, reference), ...])   # -> {"colour": 0.9, "shape": 0.7, ...}

The vocabularies are data.sample_webvid's (the generator's own). A colour word directly before "background" names
the background; any other colour word names the shape's colour. An attribute that a caption names no value of, or
several different values of, is None: a prediction hedging "a red or blue circle" is wrong for colour, never right
by luck. Chance for an attribute is 1 / the size of its vocabulary (a uniform guess among the values the generator
uses), e.g. 1/4 for direction and 1/3 for shape.
"""

import re
from collections.abc import Iterable
from itertools import pairwise

from data.sample_webvid import BACKGROUND_COLOURS, COLOURS, DIRECTIONS, SHAPE_COLOURS, SHAPES

ATTRIBUTES = ("colour", "shape", "direction", "background")
# The values the generator draws from: the denominators of chance.
VOCABULARIES = {
    "colour": SHAPE_COLOURS,
    "shape": SHAPES,
    "direction": DIRECTIONS,
    "background": BACKGROUND_COLOURS,
}
# Words recognised as naming a value: every colour the generator knows counts for both colour slots (a prediction
# saying "white circle" names a wrong colour, it does not name none).
_COLOUR_WORDS = frozenset(COLOURS)
_SHAPE_WORDS = frozenset(SHAPES)
_DIRECTION_WORDS = frozenset(DIRECTIONS)
_WORD = re.compile(r"[a-z]+")


def chance(attribute: str) -> float:
    """Accuracy of a uniform guess among the generator's values of ``attribute``."""
    return 1 / len(VOCABULARIES[attribute])


def _single(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


def parse_attributes(caption: str) -> dict[str, str | None]:
    """Each attribute's value named in ``caption``, or None where it names none or several different ones."""
    words = _WORD.findall(caption.lower())
    colour_words = [(w, nxt) for w, nxt in pairwise([*words, ""]) if w in _COLOUR_WORDS]  # (word, next word)
    background = {w for w, nxt in colour_words if nxt == "background"}
    colour = {w for w, nxt in colour_words if nxt != "background"}
    return {
        "colour": _single(colour),
        "shape": _single({w for w in words if w in _SHAPE_WORDS}),
        "direction": _single({w for w in words if w in _DIRECTION_WORDS}),
        "background": _single(background),
    }


def attribute_accuracy(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Fraction of (prediction, reference) pairs whose prediction names the reference's value, per attribute.

    Raises ValueError if a reference itself does not name exactly one value of every attribute (not a sample
    caption), or if there are no pairs."""
    correct = dict.fromkeys(ATTRIBUTES, 0)
    n = 0
    for prediction, reference in pairs:
        truth = parse_attributes(reference)
        missing = [name for name, value in truth.items() if value is None]
        if missing:
            raise ValueError(
                f"reference {reference!r} does not name one {', '.join(missing)}: attribute accuracy needs the "
                "sample captions of data.sample_webvid (e.g. 'A red circle moves left on a blue background')"
            )
        said = parse_attributes(prediction)
        for name in ATTRIBUTES:
            correct[name] += said[name] == truth[name]
        n += 1
    if n == 0:
        raise ValueError("attribute accuracy of an empty set of predictions")
    return {name: correct[name] / n for name in ATTRIBUTES}
