"""The model config a run trains: its own config.json (a local directory or the hub cache), or, where that cannot be
read (no network, not downloaded yet), the released model's config as published, for the hub ids our configs name.

    from plugins.released_architectures import model_config
    config = model_config("Qwen/Qwen2-VL-7B-Instruct")   # transformers config; .text_config, .vision_config

The published values are those of each hub repo's config.json that shape parameters, attention and positions
(tests/published_totals.py holds the published parameter totals they must give; tests/test_memory_plan.py checks).
"""

RELEASED = {
    "Qwen/Qwen2-VL-7B-Instruct": (
        "Qwen2VLConfig",
        {"hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
         "intermediate_size": 18944, "vocab_size": 152064,
         "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}},
        {"depth": 32, "embed_dim": 1280, "num_heads": 16, "hidden_size": 3584, "patch_size": 14,
         "temporal_patch_size": 2, "spatial_merge_size": 2},
    ),
    "Qwen/Qwen2-VL-2B-Instruct": (
        "Qwen2VLConfig",
        {"hidden_size": 1536, "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2,
         "intermediate_size": 8960, "vocab_size": 151936, "tie_word_embeddings": True,
         "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}},
        {"depth": 32, "embed_dim": 1280, "num_heads": 16, "hidden_size": 1536, "patch_size": 14,
         "temporal_patch_size": 2, "spatial_merge_size": 2},
    ),
    "Qwen/Qwen2.5-VL-7B-Instruct": (
        "Qwen2_5_VLConfig",
        {"hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
         "intermediate_size": 18944, "vocab_size": 152064,
         "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}},
        {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
         "hidden_act": "silu", "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2,
         "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2},
    ),
    "Qwen/Qwen3-VL-8B-Instruct": (
        "Qwen3VLConfig",
        {"hidden_size": 4096, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
         "head_dim": 128, "intermediate_size": 12288, "vocab_size": 151936,
         "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [24, 20, 20],
                             "mrope_interleaved": True}},
        {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16, "out_hidden_size": 4096,
         "hidden_act": "gelu_pytorch_tanh", "patch_size": 16, "temporal_patch_size": 2, "spatial_merge_size": 2,
         "num_position_embeddings": 2304, "deepstack_visual_indexes": [8, 16, 24]},
    ),
}  # fmt: skip


class ModelConfigError(ValueError):
    """The model's config can be neither read nor found among the released ones; the message says what to do."""


def released_config(hub_id: str):
    """The published config of ``hub_id`` (one of RELEASED), built in-process."""
    import transformers

    config_class, text, vision = RELEASED[hub_id]
    text = dict(text)
    tie = text.pop("tie_word_embeddings", False)
    return getattr(transformers, config_class)(text_config=text, vision_config=dict(vision), tie_word_embeddings=tie)


def model_config(model_name_or_path: str):
    """(config, where it came from): the model's own config.json if it can be read, else the published one."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model_name_or_path), "config.json"
    except (OSError, ValueError) as error:
        if model_name_or_path in RELEASED:
            return released_config(model_name_or_path), "published config (plugins/released_architectures.py)"
        raise ModelConfigError(
            f"model_name_or_path {model_name_or_path}: its config.json cannot be read ({error}); download the model "
            "(huggingface-cli download) or point model_name_or_path at a local model directory"
        ) from None
