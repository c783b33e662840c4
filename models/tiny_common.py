"""What every embedded tiny Qwen-VL shares: the offline BPE tokenizer, the generation config, the atomic write.

Not run by itself; each family's builder (models/tiny_qwen2vl.py, tiny_qwen2_5_vl.py, tiny_qwen3_vl.py) uses it:

    python -m models.tiny_qwen2vl     # models/tiny-qwen2vl
    python -m models.tiny_qwen2_5_vl  # models/tiny-qwen2_5vl
    python -m models.tiny_qwen3_vl    # models/tiny-qwen3vl

Same seed and same code give the same bytes: the BPE is trained here from text we own (no download), and the
weights come from ``torch.manual_seed`` before the model is built.
"""

import argparse
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
SEED = 1234

# The special tokens every Qwen-VL tokenizer starts with, in the released order (<|endoftext|> = 151643 in the
# real vocabularies; here their ids follow the tiny BPE vocabulary, <|im_end|> first as the tokenizer's eos).
QWEN_VL_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen2.5's added (non-special) tokens after <|video_pad|> (151657-151664 in Qwen2.5-VL's tokenizer).
QWEN2_5_ADDED_TOKENS = (
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)

# Qwen3's further added tokens (151665-151668 in Qwen3-VL's tokenizer).
QWEN3_ADDED_TOKENS = (*QWEN2_5_ADDED_TOKENS, "<tool_response>", "</tool_response>", "<think>", "</think>")

# Qwen2-VL's (and Qwen2.5-VL's) chat format: ChatML with a default system turn; image/video parts become
# <|vision_start|><|image_pad|/video_pad|><|vision_end|>, which the processor then expands.
QWEN2_VL_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'video' -%}{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'text' -%}{{ part['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


# Text the BPE is trained on: chat scaffolding, captioning prompts and the stock-footage words of the
# sample data, so both prompts and captions tokenize into few, meaningful pieces.
_TOKENIZER_WORDS = """
You are a helpful assistant. Describe this video in one sentence. Write a caption for the video.
What happens in this clip? Summarize the video. The video shows a scene of stock footage.
a an the on in over of with and moves moving slowly quickly left right up down across toward away
red green blue yellow purple orange white black gray pink cyan brown dark light bright
circle square triangle ball box star shape object background sky grass sand water wall night
close up aerial view slow motion 4k hd footage isolated green screen timelapse drone shot
man woman people city street car tree sea beach sunset sunrise mountain forest snow rain
one two three four five six seven eight nine ten 0 1 2 3 4 5 6 7 8 9 . , ! ? ' " - : ;
"""


def _tokenizer_corpus() -> list[str]:
    """Deterministic training lines: the word list plus every sample-data caption pattern."""
    from data.sample_webvid import all_caption_patterns

    lines = [line.strip() for line in _TOKENIZER_WORDS.strip().splitlines()]
    return lines * 4 + all_caption_patterns()


def build_tokenizer(
    bpe_vocab_size: int,
    chat_template: str,
    special_tokens: tuple[str, ...] = QWEN_VL_SPECIAL_TOKENS,
    added_tokens: tuple[str, ...] = (),
    tokenizer_class: str = "Qwen2Tokenizer",
):
    """Train a byte-level BPE offline; wrap it as the family's transformers tokenizer class (Qwen2Tokenizer, or
    Qwen3_5Tokenizer with its own pre-tokenizer) with the family's tokens.

    ``special_tokens`` are registered as special (never split, skipped when decoding), ``added_tokens`` as plain
    added tokens (never split, kept when decoding), in that order, as in the released tokenizers.
    """
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=bpe_vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_tokenizer_corpus(), trainer)
    model_json = json.loads(bpe.to_str())["model"]
    merges = [tuple(pair) for pair in model_json["merges"]]  # transformers 5 wants tuples, not "a b" strings

    tokenizer = getattr(transformers, tokenizer_class)(
        vocab=model_json["vocab"],
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        errors="replace",
        model_max_length=32768,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(special_tokens)})
    if added_tokens:
        tokenizer.add_tokens(list(added_tokens), special_tokens=False)
    tokenizer.chat_template = chat_template
    return tokenizer


def token_ids(tokenizer, tokens: tuple[str, ...]) -> dict[str, int]:
    """token -> id, read back from the tokenizer (never hard-coded)."""
    return {token: tokenizer.convert_tokens_to_ids(token) for token in tokens}


def greedy_generation_config(tokenizer, bos_token_id: int, pad_token_id: int):
    """Greedy decoding that stops at <|im_end|> or <|endoftext|>, as the released generation configs do."""
    from transformers import GenerationConfig

    return GenerationConfig(
        bos_token_id=bos_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=pad_token_id,
        do_sample=False,
    )


def vision_token_ids(ids: dict[str, int]) -> dict[str, int]:
    """The config's image/video placeholder and vision start/end ids, from ``token_ids``' answer."""
    return {"image_token_id": ids["<|image_pad|>"], "video_token_id": ids["<|video_pad|>"],
            "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"]}  # fmt: skip


def build_model_dir(out_dir: Path, model_class: type, processor, config, sizes, seed: int) -> Path:
    """A randomly initialised ``model_class(config)`` (seeded), greedy generation config, written with ``processor``
    and its sizes to ``out_dir`` (save_model_dir): the last step of every family's build()."""
    import torch

    torch.manual_seed(seed)
    model = model_class(config).eval()
    text = config.text_config
    model.generation_config = greedy_generation_config(processor.tokenizer, text.bos_token_id, text.pad_token_id)
    return save_model_dir(out_dir, model, processor, {**asdict(sizes), "seed": seed})


def save_model_dir(out_dir: Path, model, processor, summary: dict) -> Path:
    """Write model, processor, tokenizer and ``tiny_sizes.json`` (``summary`` + parameter count) to ``out_dir``,
    atomically: a staging folder beside it is renamed into place, so a killed build leaves the old model."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        n_params = sum(p.numel() for p in model.parameters())
        summary = {**summary, "parameters": n_params, "vocab_size": len(processor.tokenizer)}
        (staging / "tiny_sizes.json").write_text(json.dumps(summary, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def main(build: Callable[..., Path], doc: str, default_out_dir: Path, family: str) -> None:
    """The command line every builder shares: ``--out-dir`` and ``--seed``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=default_out_dir, help="where to write the model")
    parser.add_argument("--seed", type=int, default=SEED, help="weight-initialisation seed")
    args = parser.parse_args()
    out_dir = build(args.out_dir, seed=args.seed)
    print(f"tiny {family} written to {out_dir}")
