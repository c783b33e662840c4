"""Text that would break the chat format: LLaMA-Factory's media placeholders and chat/special tokens.

A caption becomes the assistant turn and ``--prompt`` the user turn after the one ``<video>`` placeholder.
LLaMA-Factory expands every ``<image>``/``<video>``/``<audio>`` it finds in a turn (another one in a caption
asks for media the sample does not have), and the tokenizer turns ``<|im_end|>``, ``<|im_start|>``,
``<|video_pad|>``, ``<|endoftext|>``... into control tokens that end the turn or inject a new one. The rule is
general, not a list of a few strings: any ``<|name|>`` token (also with DeepSeek's full-width ``｜``), and
the placeholders as LLaMA-Factory itself spells them (its ``*_PLACEHOLDER`` constants, which the
``IMAGE_PLACEHOLDER``/``VIDEO_PLACEHOLDER``/``AUDIO_PLACEHOLDER`` environment variables can change).
"""

import os
import re

# LLaMA-Factory's placeholders, read the way llamafactory.extras.constants reads them (the environment variable, else
# the default). Importing LLaMA-Factory here would load torch into the converter (~3 s, ~700 MB per process);
# tests/test_caption_text.py checks these equal LLaMA-Factory's own.
IMAGE_PLACEHOLDER = os.getenv("IMAGE_PLACEHOLDER", "<image>")
VIDEO_PLACEHOLDER = os.getenv("VIDEO_PLACEHOLDER", "<video>")
AUDIO_PLACEHOLDER = os.getenv("AUDIO_PLACEHOLDER", "<audio>")
MEDIA_PLACEHOLDERS = (IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER, AUDIO_PLACEHOLDER)
# <|im_end|>, <|vision_start|>, <|begin_of_text|>, <｜end▁of▁sentence｜>: a name without spaces between bars
_SPECIAL_TOKEN = re.compile(r"<[|｜][^\s<>|｜]{1,64}[|｜]>")


def normalise_whitespace(text: str) -> str:
    """Collapse runs of whitespace to one space, so a caption is one line (str.split also splits at CR, VT, FF,
    U+001C-U+001F, NEL, U+2028 and U+2029, which Java's PTB tokenizer reads as line ends); keep every other
    character."""
    return " ".join(text.split())


def chat_markup(text: str) -> str | None:
    """What in ``text`` the chat template would read as markup (first placeholder or special token), or None."""
    for placeholder in MEDIA_PLACEHOLDERS:
        if placeholder in text:
            return f"media placeholder {placeholder} (LLaMA-Factory would expect another media file for it)"
    token = _SPECIAL_TOKEN.search(text)
    if token:
        return f"chat/special token {token[0]} (the tokenizer would read it as a control token, not text)"
    return None


def check_prompt(prompt: str) -> str:
    """Return ``prompt`` if it can follow the sample's one video placeholder; raise ValueError naming the problem."""
    problem = chat_markup(prompt)
    if problem is not None:
        raise ValueError(
            f"--prompt {prompt!r} contains a {problem}. The prompt is the user's text after the sample's one "
            f"{VIDEO_PLACEHOLDER}: pass plain text, e.g. --prompt 'Describe this video in one sentence.'"
        )
    return prompt
