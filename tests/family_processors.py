"""In-process processors of each Qwen-VL family for the plugin tests: the real transformers processor classes with
real patch/merge sizes around the tiny tokenizer (models/tiny-qwen2vl), video settings set on the processor as
LLaMA-Factory's load_tokenizer sets them (its patch_processor).

    processor = family_processor("qwen3_vl", tiny_model_dir)
"""

from pathlib import Path

VIDEO_SETTINGS = {"video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": 224 * 224}
# LLaMA-Factory's defaults for the keys a config here does not set
LF_DEFAULTS = {"video_min_pixels": 16 * 16, "image_max_pixels": 768 * 768, "image_min_pixels": 32 * 32}
# family -> (processor class, video processor class, patch size); temporal patch 2 and spatial merge 2 for all
FAMILIES = {
    "qwen2_vl": ("Qwen2VLProcessor", "Qwen2VLVideoProcessor", 14),
    "qwen2_5_vl": ("Qwen2_5_VLProcessor", "Qwen2VLVideoProcessor", 14),
    "qwen3_vl": ("Qwen3VLProcessor", "Qwen3VLVideoProcessor", 16),
}


def family_processor(family: str, tokenizer_dir: Path, **video_settings):
    """The processor of ``family`` (a key of FAMILIES) with the tiny tokenizer and ``video_settings`` applied."""
    import transformers

    processor_name, video_processor_name, patch = FAMILIES[family]
    factor = patch * 2
    patching = {"patch_size": patch, "temporal_patch_size": 2, "merge_size": 2}
    bounds = {"shortest_edge": factor * factor, "longest_edge": factor * factor * 1280}
    processor = getattr(transformers, processor_name)(
        image_processor=transformers.Qwen2VLImageProcessor(size=dict(bounds), **patching),
        video_processor=getattr(transformers, video_processor_name)(size=dict(bounds), **patching),
        tokenizer=transformers.AutoTokenizer.from_pretrained(tokenizer_dir),
    )
    for key, value in {**LF_DEFAULTS, **VIDEO_SETTINGS, **video_settings}.items():
        setattr(processor, key, value)
    return processor
