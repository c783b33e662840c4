"""Build the embedded tiny Qwen2.5-VL: randomly initialised, offline and deterministic.

    python -m models.tiny_qwen2_5_vl                      # writes models/tiny-qwen2_5vl/ (`make tiny-model`)
    python -m models.tiny_qwen2_5_vl --out-dir /tmp/tiny  # anywhere else

Real transformers classes (Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor with Qwen2-VL image and video
processors, Qwen2Tokenizer) at tiny sizes, with Qwen2.5-VL-7B-Instruct's real patch 14 / temporal patch 2 /
spatial merge 2, its window attention (window_size 112 pixels, the last vision block full attention as in its
fullatt_block_indexes [7, 15, 23, 31]) and tokens_per_second 2 (the M-RoPE time scale that
second_per_grid_ts feeds), so video token math and time positions are the 7B's. The tokenizer carries
Qwen2.5-VL's special and added tokens in the released order; every id in the config is read from it.
"""

from dataclasses import dataclass
from pathlib import Path

from models import tiny_common

DEFAULT_OUT_DIR = tiny_common.MODELS_DIR / "tiny-qwen2_5vl"
SEED = tiny_common.SEED
SPECIAL_TOKENS = tiny_common.QWEN_VL_SPECIAL_TOKENS
ADDED_TOKENS = tiny_common.QWEN2_5_ADDED_TOKENS
CHAT_TEMPLATE = tiny_common.QWEN2_VL_CHAT_TEMPLATE  # Qwen2.5-VL kept Qwen2-VL's chat format

# Qwen2.5-VL-7B-Instruct's preprocessor_config.json (min_pixels 3136, max_pixels 12845056; it has no separate
# video config, so videos get the same bounds). LLaMA-Factory replaces both with video_min/max_pixels.
MIN_PIXELS = 3136
MAX_PIXELS = 12845056
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class TinySizes:
    """Every size of the tiny model, in one place. Patch, merge, window and time sizes are the real ones."""

    bpe_vocab_size: int = 1024
    text_hidden_size: int = 128
    text_layers: int = 4
    text_heads: int = 4
    text_kv_heads: int = 2
    text_intermediate_size: int = 256
    # M-RoPE: (temporal, height, width) frequency pairs, the 7B's [16, 24, 24] scaled to head_dim 32 (sums to 16),
    # with a low rope_theta so the height and width pairs turn by 0.1-0.6 rad per patch row/column. At the 7B's
    # theta 1e6 they turned by 3e-2 down to 2e-6 rad: the language model could not tell where in a frame a token
    # was, and the demo's shape and direction stayed at chance (models/tiny_qwen2vl.py, same fix).
    mrope_section: tuple[int, int, int] = (4, 6, 6)
    rope_theta: float = 10.0
    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_intermediate_size: int = 128
    vision_heads: int = 4
    fullatt_block_indexes: tuple[int, ...] = (1,)  # block 0 windowed, block 1 full, as the 7B alternates
    window_size: int = 112
    tokens_per_second: int = 2
    patch_size: int = 14
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    max_position_embeddings: int = 4096


SIZES = TinySizes()


def build_tokenizer(sizes: TinySizes = SIZES):
    """Offline byte-level BPE as a Qwen2Tokenizer with Qwen2.5-VL's special and added tokens."""
    return tiny_common.build_tokenizer(sizes.bpe_vocab_size, CHAT_TEMPLATE, SPECIAL_TOKENS, ADDED_TOKENS)


def build_processor(sizes: TinySizes = SIZES):
    """Qwen2_5_VLProcessor = offline tokenizer + Qwen2-VL image and video processors at the real patch sizes."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    common = dict(
        size={"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
        patch_size=sizes.patch_size,
        temporal_patch_size=sizes.temporal_patch_size,
        merge_size=sizes.spatial_merge_size,
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD),
    )
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**common),
        video_processor=Qwen2VLVideoProcessor(**common),
        tokenizer=build_tokenizer(sizes),
        chat_template=CHAT_TEMPLATE,
    )


def build_config(tokenizer, sizes: TinySizes = SIZES):
    """Qwen2_5_VLConfig at tiny sizes; every token id comes from the tokenizer, never hard-coded."""
    from transformers import Qwen2_5_VLConfig

    ids = tiny_common.token_ids(tokenizer, SPECIAL_TOKENS)
    text_config = dict(
        vocab_size=len(tokenizer),
        hidden_size=sizes.text_hidden_size,
        intermediate_size=sizes.text_intermediate_size,
        num_hidden_layers=sizes.text_layers,
        num_attention_heads=sizes.text_heads,
        num_key_value_heads=sizes.text_kv_heads,
        max_position_embeddings=sizes.max_position_embeddings,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": sizes.rope_theta,
            "mrope_section": list(sizes.mrope_section),
        },
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    vision_config = dict(
        depth=sizes.vision_depth,
        hidden_size=sizes.vision_hidden_size,
        intermediate_size=sizes.vision_intermediate_size,
        num_heads=sizes.vision_heads,
        out_hidden_size=sizes.text_hidden_size,
        fullatt_block_indexes=list(sizes.fullatt_block_indexes),
        window_size=sizes.window_size,
        tokens_per_second=sizes.tokens_per_second,
        patch_size=sizes.patch_size,
        temporal_patch_size=sizes.temporal_patch_size,
        spatial_merge_size=sizes.spatial_merge_size,
    )
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        **tiny_common.vision_token_ids(ids),
        tie_word_embeddings=False,
    )


def build(out_dir: Path = DEFAULT_OUT_DIR, sizes: TinySizes = SIZES, seed: int = tiny_common.SEED) -> Path:
    """Write model, processor, tokenizer and generation config to ``out_dir`` (atomically: all or nothing)."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    processor = build_processor(sizes)
    config = build_config(processor.tokenizer, sizes)
    return tiny_common.build_model_dir(out_dir, Qwen2_5_VLForConditionalGeneration, processor, config, sizes, seed)


def main() -> None:
    tiny_common.main(build, __doc__, DEFAULT_OUT_DIR, "Qwen2.5-VL")


if __name__ == "__main__":
    main()
