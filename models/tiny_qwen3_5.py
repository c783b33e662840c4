"""Build the embedded tiny Qwen3.5: randomly initialised, offline and deterministic.

    python -m models.tiny_qwen3_5                      # writes models/tiny-qwen3_5/ (`make tiny-model`)
    python -m models.tiny_qwen3_5 --out-dir /tmp/tiny  # anywhere else

Real transformers classes (Qwen3_5ForConditionalGeneration, Qwen3VLProcessor with Qwen2-VL image processor and
Qwen3VLVideoProcessor, Qwen3_5Tokenizer) at tiny sizes, with Qwen3.5's vision path (patch 16 / temporal patch 2 /
spatial merge 2, a 32-pixel grid, 2304 learned position embeddings, no DeepStack) and its hybrid text model (a
Gated DeltaNet linear-attention layer, then a full-attention layer; gated attention output, a quarter of each head
rotary, interleaved M-RoPE): the architecture of transformers' Qwen3_5Config, which documents the Qwen3.5-9B/27B
checkpoints. Video tokens and timestamp text go through the same Qwen3VLProcessor as Qwen3-VL. Without the
flash-linear-attention and causal-conv1d kernels (CUDA only) transformers runs the linear attention in plain torch,
which is what the CPU tests use. That plain-torch path costs ~0.26 s per linear layer per demo training step on one
core (a 63-step Python loop per chunk, forward and backward), so the tiny model has one linear layer, not the
released three per full-attention layer: both layer kinds and their caches still run, and `make demo MODEL=qwen3_5`
trains at about Qwen3-VL's speed. The processors carry Qwen3-VL-8B's pixel bounds (LLaMA-Factory replaces them).
"""

from dataclasses import dataclass
from pathlib import Path

from models import tiny_common, tiny_qwen3_vl

DEFAULT_OUT_DIR = tiny_common.MODELS_DIR / "tiny-qwen3_5"
SEED = tiny_common.SEED
SPECIAL_TOKENS = tiny_common.QWEN_VL_SPECIAL_TOKENS
ADDED_TOKENS = tiny_common.QWEN3_ADDED_TOKENS

# Qwen3.5's chat format is Qwen3-VL's, except that the thinking model opens its answer with "<think>\n"
# (LLaMA-Factory's qwen3_5 template; qwen3_5_nothink closes an empty think block instead).
CHAT_TEMPLATE = tiny_qwen3_vl.CHAT_TEMPLATE.replace(
    "{{ '<|im_start|>assistant\\n' }}", "{{ '<|im_start|>assistant\\n<think>\\n' }}"
)


@dataclass(frozen=True)
class TinySizes:
    """Every size of the tiny model, in one place. Patch, merge, position-grid and layer-pattern shapes are real."""

    bpe_vocab_size: int = 1024
    text_hidden_size: int = 128
    # Released Qwen3.5 repeats 3 linear + 1 full (full_attention_interval 4); one of each keeps both code paths
    layer_types: tuple[str, ...] = ("linear_attention", "full_attention")
    text_heads: int = 4
    text_kv_heads: int = 2
    text_head_dim: int = 64
    text_intermediate_size: int = 256
    partial_rotary_factor: float = 0.25  # rotary on 16 of 64 head dims
    # Interleaved M-RoPE: Qwen3.5's [11, 11, 10] scaled to 8 rotary pairs. With the released rope_theta 1e7 the
    # slowest height pair (7 of 8) turned by ~1e-6 rad per patch and the demo's shape and direction stayed at
    # chance; at theta 10 every height/width pair turns by 0.13-0.75 rad.
    mrope_section: tuple[int, int, int] = (3, 3, 2)
    rope_theta: float = 10.0
    linear_conv_kernel_dim: int = 4
    linear_key_head_dim: int = 32
    linear_value_head_dim: int = 32
    linear_num_key_heads: int = 2
    linear_num_value_heads: int = 4
    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_intermediate_size: int = 128
    vision_heads: int = 4
    num_position_embeddings: int = 2304
    patch_size: int = 16
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    max_position_embeddings: int = 4096


SIZES = TinySizes()


def build_tokenizer(sizes: TinySizes = SIZES):
    """Offline byte-level BPE as a Qwen3_5Tokenizer with the Qwen-VL special and Qwen3 added tokens."""
    return tiny_common.build_tokenizer(
        sizes.bpe_vocab_size, CHAT_TEMPLATE, SPECIAL_TOKENS, ADDED_TOKENS, tokenizer_class="Qwen3_5Tokenizer"
    )


def build_processor(sizes: TinySizes = SIZES):
    """Qwen3VLProcessor (what transformers pairs with qwen3_5) = offline tokenizer + Qwen3-VL's processors."""
    return tiny_qwen3_vl.processor_for(sizes, build_tokenizer(sizes), CHAT_TEMPLATE)


def build_config(tokenizer, sizes: TinySizes = SIZES):
    """Qwen3_5Config at tiny sizes; every token id comes from the tokenizer, never hard-coded."""
    from transformers import Qwen3_5Config

    ids = tiny_common.token_ids(tokenizer, SPECIAL_TOKENS)
    text_config = dict(
        vocab_size=len(tokenizer),
        hidden_size=sizes.text_hidden_size,
        intermediate_size=sizes.text_intermediate_size,
        num_hidden_layers=len(sizes.layer_types),
        layer_types=list(sizes.layer_types),
        num_attention_heads=sizes.text_heads,
        num_key_value_heads=sizes.text_kv_heads,
        head_dim=sizes.text_head_dim,
        linear_conv_kernel_dim=sizes.linear_conv_kernel_dim,
        linear_key_head_dim=sizes.linear_key_head_dim,
        linear_value_head_dim=sizes.linear_value_head_dim,
        linear_num_key_heads=sizes.linear_num_key_heads,
        linear_num_value_heads=sizes.linear_num_value_heads,
        max_position_embeddings=sizes.max_position_embeddings,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": sizes.rope_theta,
            "mrope_section": list(sizes.mrope_section),
            "mrope_interleaved": True,
            "partial_rotary_factor": sizes.partial_rotary_factor,
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
        num_position_embeddings=sizes.num_position_embeddings,
        patch_size=sizes.patch_size,
        temporal_patch_size=sizes.temporal_patch_size,
        spatial_merge_size=sizes.spatial_merge_size,
    )
    return Qwen3_5Config(
        text_config=text_config,
        vision_config=vision_config,
        **tiny_common.vision_token_ids(ids),
        tie_word_embeddings=False,
    )


def build(out_dir: Path = DEFAULT_OUT_DIR, sizes: TinySizes = SIZES, seed: int = tiny_common.SEED) -> Path:
    """Write model, processor, tokenizer and generation config to ``out_dir`` (atomically: all or nothing)."""
    from transformers import Qwen3_5ForConditionalGeneration

    processor = build_processor(sizes)
    config = build_config(processor.tokenizer, sizes)
    return tiny_common.build_model_dir(out_dir, Qwen3_5ForConditionalGeneration, processor, config, sizes, seed)


def main() -> None:
    tiny_common.main(build, __doc__, DEFAULT_OUT_DIR, "Qwen3.5")


if __name__ == "__main__":
    main()
