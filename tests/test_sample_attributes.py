"""Reading colour, shape, direction and background back out of captions, and per-attribute accuracy."""

import pytest

from data.sample_attributes import ATTRIBUTES, VOCABULARIES, attribute_accuracy, chance, parse_attributes
from data.sample_webvid import all_caption_patterns, caption_for

REFERENCE = "A red circle moves left on a blue background"


def test_every_caption_the_generator_writes_parses_back_to_its_attributes():
    patterns = all_caption_patterns()
    for colour in VOCABULARIES["colour"]:
        for shape in VOCABULARIES["shape"]:
            for direction in VOCABULARIES["direction"]:
                for background in VOCABULARIES["background"]:
                    caption = caption_for(colour, shape, direction, background)
                    if caption in patterns:
                        expected = {"colour": colour, "shape": shape, "direction": direction, "background": background}
                        assert parse_attributes(caption) == expected


def test_the_shape_colour_and_the_background_colour_are_told_apart():
    assert parse_attributes("A blue square moves up on a red background")["colour"] == "blue"
    assert parse_attributes("A blue square moves up on a red background")["background"] == "red"
    assert parse_attributes("a GREEN triangle, moving down, on a yellow background.")["background"] == "yellow"


@pytest.mark.parametrize(
    ("caption", "attribute"),
    [
        ("A red circle moves on a blue background", "direction"),  # names no direction
        ("A red circle moves left and right on a blue background", "direction"),  # names two
        ("A red or green circle moves left on a blue background", "colour"),
        ("A red circle square moves left on a blue background", "shape"),
        ("A red circle moves left", "background"),
        ("upupupupupupupup darC darC", "direction"),  # base-model babble: 'up' glued into another word is no word
        ("", "colour"),  # an empty answer (a model that stops at once) names nothing
    ],
)
def test_an_answer_naming_no_or_several_values_names_none(caption, attribute):
    assert parse_attributes(caption)[attribute] is None


def test_repeating_the_same_value_still_names_it():
    assert parse_attributes("A red red circle moves left left on a blue background")["direction"] == "left"


def test_accuracy_counts_each_attribute_against_the_reference():
    pairs = [
        (REFERENCE, REFERENCE),  # all right
        ("A red square moves right on a blue background", REFERENCE),  # shape and direction wrong
        ("A white circle moves left on a black background", REFERENCE),  # colour, background wrong
        ("darC darC darC", REFERENCE),  # names nothing: wrong everywhere
    ]
    assert attribute_accuracy(pairs) == {"colour": 0.5, "shape": 0.5, "direction": 0.5, "background": 0.5}
    assert attribute_accuracy(pairs[:2]) == {"colour": 1.0, "shape": 0.5, "direction": 0.5, "background": 1.0}


def test_a_reference_that_is_not_a_sample_caption_is_refused_naming_it():
    with pytest.raises(ValueError, match="does not name one direction"):
        attribute_accuracy([(REFERENCE, "A red circle on a blue background")])
    with pytest.raises(ValueError, match="empty"):
        attribute_accuracy([])


def test_chance_is_one_over_the_generators_vocabulary():
    assert {name: chance(name) for name in ATTRIBUTES} == {
        "colour": 1 / 4, "shape": 1 / 3, "direction": 1 / 4, "background": 1 / 4}  # fmt: skip
