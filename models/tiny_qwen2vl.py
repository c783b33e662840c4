"""Build the embedded default model: a tiny, randomly initialised Qwen2-VL, offline and deterministic.

    python -m models.tiny_qwen2vl                      # writes models/tiny-qwen2vl/ (what `make tiny-model` runs)
    python -m models.tiny_qwen2vl --out-dir /tmp/tiny  # anywhere else

Real transformers classes (Qwen2VLForConditionalGeneration, Qwen2VLProcessor with its image and video
processors, Qwen2Tokenizer) at tiny sizes, with the real patch 14 / temporal patch 2 / spatial merge 2, so
video token math is exactly Qwen2-VL-7B's. The byte-level BPE vocabulary is trained here, from text we own,
and every special-token id in the config is read back from the tokenizer.
"""

import argparse
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "tiny-qwen2vl"
SEED = 1234

# Qwen2-VL's special tokens, in Qwen2-VL's order (their ids follow the BPE vocabulary).
SPECIAL_TOKENS = (
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

# Pixel bounds of Qwen2-VL-7B-Instruct's preprocessor_config.json. Far below the video processor's class
# default minimum (128·28·28), which would upscale a 224×224 frame budget.
MIN_PIXELS = 56 * 56
MAX_PIXELS = 28 * 28 * 1280


@dataclass(frozen=True)
class TinySizes:
    """Every size of the tiny model, in one place. Patch/merge sizes are the real ones on purpose."""

    bpe_vocab_size: int = 1024
    text_hidden_size: int = 128
    text_layers: int = 4
    text_heads: int = 4
    text_kv_heads: int = 2
    text_intermediate_size: int = 256
    mrope_section: tuple[int, int, int] = (8, 4, 4)  # sums to head_dim / 2 = 128 / 4 / 2
    vision_depth: int = 2
    vision_embed_dim: int = 64
    vision_heads: int = 4
    vision_mlp_ratio: int = 2
    patch_size: int = 14
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    max_position_embeddings: int = 4096


SIZES = TinySizes()

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


def build_tokenizer(sizes: TinySizes = SIZES):
    """Train a byte-level BPE offline and wrap it as a transformers Qwen2Tokenizer with Qwen2-VL specials."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=sizes.bpe_vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_tokenizer_corpus(), trainer)
    model_json = json.loads(bpe.to_str())["model"]
    merges = [tuple(pair) for pair in model_json["merges"]]  # transformers 5 wants tuples, not "a b" strings

    tokenizer = Qwen2Tokenizer(
        vocab=model_json["vocab"],
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        errors="replace",
        model_max_length=32768,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": [t for t in SPECIAL_TOKENS]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


# Qwen2-VL chat format: ChatML with a default system turn; image/video parts become
# <|vision_start|><|image_pad|/video_pad|><|vision_end|>, which the processor then expands.
CHAT_TEMPLATE = (
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


def build_processor(sizes: TinySizes = SIZES):
    """Qwen2VLProcessor = offline tokenizer + Qwen2-VL image and video processors at real patch sizes."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    pixel_bounds = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    patching = dict(
        patch_size=sizes.patch_size,
        temporal_patch_size=sizes.temporal_patch_size,
        merge_size=sizes.spatial_merge_size,
    )
    return Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=dict(pixel_bounds), **patching),
        video_processor=Qwen2VLVideoProcessor(size=dict(pixel_bounds), **patching),
        tokenizer=build_tokenizer(sizes),
        chat_template=CHAT_TEMPLATE,
    )


def build_config(tokenizer, sizes: TinySizes = SIZES):
    """Qwen2VLConfig at tiny sizes; every token id comes from the tokenizer, never hard-coded."""
    from transformers import Qwen2VLConfig

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    vocab_size = len(tokenizer)
    text_config = dict(
        vocab_size=vocab_size,
        hidden_size=sizes.text_hidden_size,
        intermediate_size=sizes.text_intermediate_size,
        num_hidden_layers=sizes.text_layers,
        num_attention_heads=sizes.text_heads,
        num_key_value_heads=sizes.text_kv_heads,
        max_position_embeddings=sizes.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": list(sizes.mrope_section)},
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    vision_config = dict(
        depth=sizes.vision_depth,
        embed_dim=sizes.vision_embed_dim,
        hidden_size=sizes.text_hidden_size,
        num_heads=sizes.vision_heads,
        mlp_ratio=sizes.vision_mlp_ratio,
        patch_size=sizes.patch_size,
        temporal_patch_size=sizes.temporal_patch_size,
        spatial_merge_size=sizes.spatial_merge_size,
    )
    return Qwen2VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def build(out_dir: Path = DEFAULT_OUT_DIR, sizes: TinySizes = SIZES, seed: int = SEED) -> Path:
    """Write model, processor, tokenizer and generation config to ``out_dir`` (atomically: all or nothing)."""
    import torch
    from transformers import GenerationConfig, Qwen2VLForConditionalGeneration

    processor = build_processor(sizes)
    tokenizer = processor.tokenizer
    config = build_config(tokenizer, sizes)
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=config.text_config.pad_token_id,
        do_sample=False,
    )

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        n_params = sum(p.numel() for p in model.parameters())
        summary = {**asdict(sizes), "seed": seed, "parameters": n_params, "vocab_size": len(tokenizer)}
        (staging / "tiny_sizes.json").write_text(json.dumps(summary, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where to write the model")
    parser.add_argument("--seed", type=int, default=SEED, help="weight-initialisation seed")
    args = parser.parse_args()
    out_dir = build(args.out_dir, seed=args.seed)
    print(f"tiny Qwen2-VL written to {out_dir}")


if __name__ == "__main__":
    main()
