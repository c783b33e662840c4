"""Build the embedded default model: a tiny, randomly initialised Qwen2-VL, offline and deterministic.

    python -m models.tiny_qwen2vl                      # writes models/tiny-qwen2vl/ (what `make tiny-model` runs)
    python -m models.tiny_qwen2vl --out-dir /tmp/tiny  # anywhere else

Real transformers classes (Qwen2VLForConditionalGeneration, Qwen2VLProcessor with its image and video
processors, Qwen2Tokenizer) at tiny sizes, with the real patch 14 / temporal patch 2 / spatial merge 2, so
video token math is exactly Qwen2-VL-7B's. The byte-level BPE vocabulary is trained here, from text we own,
and every special-token id in the config is read back from the tokenizer.
"""

from dataclasses import dataclass
from pathlib import Path

from models import tiny_common

DEFAULT_OUT_DIR = tiny_common.MODELS_DIR / "tiny-qwen2vl"
SEED = tiny_common.SEED

# Qwen2-VL's special tokens, in Qwen2-VL's order (their ids follow the BPE vocabulary); Qwen2-VL's tokenizer has
# no further added tokens.
SPECIAL_TOKENS = tiny_common.QWEN_VL_SPECIAL_TOKENS

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
    # M-RoPE: (temporal, height, width) frequency pairs, summing to head_dim / 2 = 128 / 4 / 2. The 7B's
    # [16, 24, 24] share at head_dim 32 plus a low rope_theta, so the height and width pairs turn by 0.1-0.6 rad per
    # patch row/column: at (8, 4, 4) and the 7B's theta 1e6 they turned by <= 1e-3 rad, the language model could not
    # tell where in a frame the shape was, and the demo's shape and direction stayed at chance.
    mrope_section: tuple[int, int, int] = (4, 6, 6)
    rope_theta: float = 10.0
    vision_depth: int = 2
    vision_embed_dim: int = 64
    vision_heads: int = 4
    vision_mlp_ratio: int = 2
    patch_size: int = 14
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    max_position_embeddings: int = 4096


SIZES = TinySizes()


def build_tokenizer(sizes: TinySizes = SIZES):
    """Train a byte-level BPE offline and wrap it as a transformers Qwen2Tokenizer with Qwen2-VL specials."""
    return tiny_common.build_tokenizer(sizes.bpe_vocab_size, CHAT_TEMPLATE, SPECIAL_TOKENS)


# Qwen2-VL chat format: ChatML with a default system turn (the same for Qwen2.5-VL).
CHAT_TEMPLATE = tiny_common.QWEN2_VL_CHAT_TEMPLATE


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

    ids = tiny_common.token_ids(tokenizer, SPECIAL_TOKENS)
    vocab_size = len(tokenizer)
    text_config = dict(
        vocab_size=vocab_size,
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
        **tiny_common.vision_token_ids(ids),
        tie_word_embeddings=False,
    )


def build(out_dir: Path = DEFAULT_OUT_DIR, sizes: TinySizes = SIZES, seed: int = SEED) -> Path:
    """Write model, processor, tokenizer and generation config to ``out_dir`` (atomically: all or nothing)."""
    from transformers import Qwen2VLForConditionalGeneration

    processor = build_processor(sizes)
    config = build_config(processor.tokenizer, sizes)
    return tiny_common.build_model_dir(out_dir, Qwen2VLForConditionalGeneration, processor, config, sizes, seed)


def main() -> None:
    tiny_common.main(build, __doc__, DEFAULT_OUT_DIR, "Qwen2-VL")


if __name__ == "__main__":
    main()
