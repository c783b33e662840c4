"""Build the embedded tiny Qwen3-VL: randomly initialised, offline and deterministic.

    python -m models.tiny_qwen3_vl                      # writes models/tiny-qwen3vl/ (`make tiny-model`)
    python -m models.tiny_qwen3_vl --out-dir /tmp/tiny  # anywhere else

Real transformers classes (Qwen3VLForConditionalGeneration, Qwen3VLProcessor with Qwen2-VL image processor and
Qwen3VLVideoProcessor, Qwen2Tokenizer) at tiny sizes, with Qwen3-VL-8B-Instruct's real patch 16 / temporal patch 2
/ spatial merge 2 (a 32-pixel grid), its 2304 learned vision position embeddings (a 48x48 grid, interpolated),
three DeepStack levels (the 8B takes vision blocks [8, 16, 24] of 27 into the first three text layers) and
interleaved M-RoPE, so video token math (timestamp text included) is the 8B's. The processors carry the 8B's
preprocessor_config.json / video_preprocessor_config.json values; the tokenizer Qwen3-VL's special and added tokens
in the released order; every id in the config is read from it.
"""

from dataclasses import dataclass
from pathlib import Path

from models import tiny_common

DEFAULT_OUT_DIR = tiny_common.MODELS_DIR / "tiny-qwen3vl"
SEED = tiny_common.SEED
SPECIAL_TOKENS = tiny_common.QWEN_VL_SPECIAL_TOKENS
ADDED_TOKENS = tiny_common.QWEN3_ADDED_TOKENS

# Qwen3-VL-8B-Instruct's processor values: images 65536..16777216 pixels, videos 4096..25165824 pixels (over
# all frames of a clip), mean/std 0.5, frames sampled at 2 fps, 4..768 of them, when the processor samples.
# LLaMA-Factory replaces the bounds with video_min/max_pixels and samples frames itself.
IMAGE_PIXELS = {"shortest_edge": 65536, "longest_edge": 16777216}
VIDEO_PIXELS = {"shortest_edge": 4096, "longest_edge": 25165824}
HALF = [0.5, 0.5, 0.5]
VIDEO_FPS = 2
VIDEO_MIN_FRAMES = 4
VIDEO_MAX_FRAMES = 768

# Qwen3-VL's chat format: ChatML with no default system turn; image/video parts become
# <|vision_start|><|image_pad|/video_pad|><|vision_end|>; the processor expands a video into one
# "<t seconds><|vision_start|><|video_pad|>...<|vision_end|>" group per temporal patch.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
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


@dataclass(frozen=True)
class TinySizes:
    """Every size of the tiny model, in one place. Patch, merge, position-grid and DeepStack shapes are real."""

    bpe_vocab_size: int = 1024
    text_hidden_size: int = 128
    text_layers: int = 4
    text_heads: int = 4
    text_kv_heads: int = 2
    text_head_dim: int = 32
    text_intermediate_size: int = 256
    # Interleaved M-RoPE (THWTHW...T): the 8B's [24, 20, 20] scaled to head_dim 32 (sums to 16). With the 8B's
    # rope_theta 5e6 the slowest height/width pairs (13 and 14 of 16) turned by ~1e-6 rad per patch and the demo's
    # shape and direction stayed at chance; at theta 10 every height/width pair turns by 0.13-0.9 rad.
    mrope_section: tuple[int, int, int] = (6, 5, 5)
    rope_theta: float = 10.0
    vision_depth: int = 4
    vision_hidden_size: int = 64
    vision_intermediate_size: int = 128
    vision_heads: int = 4
    deepstack_visual_indexes: tuple[int, ...] = (1, 2, 3)  # three levels into text layers 0-2, as in the 8B
    num_position_embeddings: int = 2304
    patch_size: int = 16
    temporal_patch_size: int = 2
    spatial_merge_size: int = 2
    max_position_embeddings: int = 4096


SIZES = TinySizes()


def build_tokenizer(sizes: TinySizes = SIZES):
    """Offline byte-level BPE as a Qwen2Tokenizer with Qwen3-VL's special and added tokens."""
    return tiny_common.build_tokenizer(sizes.bpe_vocab_size, CHAT_TEMPLATE, SPECIAL_TOKENS, ADDED_TOKENS)


def build_processor(sizes: TinySizes = SIZES):
    """Qwen3VLProcessor = offline tokenizer + Qwen2-VL image processor + Qwen3VLVideoProcessor, real sizes."""
    return processor_for(sizes, build_tokenizer(sizes), CHAT_TEMPLATE)


def processor_for(sizes, tokenizer, chat_template: str):
    """Qwen3VLProcessor around ``tokenizer`` with the image and video processors at ``sizes``' patching (Qwen3.5
    pairs the same processors with its own tokenizer and template: models/tiny_qwen3_5.py)."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    patching = dict(
        patch_size=sizes.patch_size,
        temporal_patch_size=sizes.temporal_patch_size,
        merge_size=sizes.spatial_merge_size,
        image_mean=HALF,
        image_std=HALF,
    )
    video_processor = Qwen3VLVideoProcessor(
        size=dict(VIDEO_PIXELS),
        fps=VIDEO_FPS,
        min_frames=VIDEO_MIN_FRAMES,
        max_frames=VIDEO_MAX_FRAMES,
        **patching,
    )
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=dict(IMAGE_PIXELS), **patching),
        video_processor=video_processor,
        tokenizer=tokenizer,
        chat_template=chat_template,
    )


def build_config(tokenizer, sizes: TinySizes = SIZES):
    """Qwen3VLConfig at tiny sizes; every token id comes from the tokenizer, never hard-coded."""
    from transformers import Qwen3VLConfig

    ids = tiny_common.token_ids(tokenizer, SPECIAL_TOKENS)
    text_config = dict(
        vocab_size=len(tokenizer),
        hidden_size=sizes.text_hidden_size,
        intermediate_size=sizes.text_intermediate_size,
        num_hidden_layers=sizes.text_layers,
        num_attention_heads=sizes.text_heads,
        num_key_value_heads=sizes.text_kv_heads,
        head_dim=sizes.text_head_dim,
        max_position_embeddings=sizes.max_position_embeddings,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": sizes.rope_theta,
            "mrope_section": list(sizes.mrope_section),
            "mrope_interleaved": True,
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
        deepstack_visual_indexes=list(sizes.deepstack_visual_indexes),
        num_position_embeddings=sizes.num_position_embeddings,
        patch_size=sizes.patch_size,
        temporal_patch_size=sizes.temporal_patch_size,
        spatial_merge_size=sizes.spatial_merge_size,
    )
    return Qwen3VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        **tiny_common.vision_token_ids(ids),
        tie_word_embeddings=False,
    )


def build(out_dir: Path = DEFAULT_OUT_DIR, sizes: TinySizes = SIZES, seed: int = tiny_common.SEED) -> Path:
    """Write model, processor, tokenizer and generation config to ``out_dir`` (atomically: all or nothing)."""
    from transformers import Qwen3VLForConditionalGeneration

    processor = build_processor(sizes)
    config = build_config(processor.tokenizer, sizes)
    return tiny_common.build_model_dir(out_dir, Qwen3VLForConditionalGeneration, processor, config, sizes, seed)


def main() -> None:
    tiny_common.main(build, __doc__, DEFAULT_OUT_DIR, "Qwen3-VL")


if __name__ == "__main__":
    main()
