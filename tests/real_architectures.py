"""The released models our real-size configs train, as their config.json values (no hub access at test time).

Read from each hub repo's config.json (Qwen/Qwen2-VL-7B-Instruct, Qwen/Qwen2.5-VL-7B-Instruct,
Qwen/Qwen3-VL-8B-Instruct); the fields that shape parameters, attention and video positions are kept. Built on
the meta device they give the published totals (8.29 B, 8.29 B, 8.77 B parameters).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RealArchitecture:
    hub_id: str
    model_class: str  # transformers class name
    config_class: str
    text: dict
    vision: dict
    parameters: int  # every parameter of the weightless model
    lora_r64_qv: int  # LoRA r64 on the language model's q_proj, v_proj: layers x 64 x ((in+out_q) + (in+out_v))


QWEN2_VL_7B = RealArchitecture(
    hub_id="Qwen/Qwen2-VL-7B-Instruct",
    model_class="Qwen2VLForConditionalGeneration",
    config_class="Qwen2VLConfig",
    text={"hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
          "intermediate_size": 18944, "vocab_size": 152064},
    vision={"depth": 32, "embed_dim": 1280, "num_heads": 16, "hidden_size": 3584, "patch_size": 14,
            "temporal_patch_size": 2, "spatial_merge_size": 2},
    parameters=8_291_375_616,  # REFERENCE §2
    lora_r64_qv=28 * 64 * ((3584 + 3584) + (3584 + 512)),  # 20,185,088
)  # fmt: skip

QWEN2_5_VL_7B = RealArchitecture(
    hub_id="Qwen/Qwen2.5-VL-7B-Instruct",
    model_class="Qwen2_5_VLForConditionalGeneration",
    config_class="Qwen2_5_VLConfig",
    text={"hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
          "intermediate_size": 18944, "vocab_size": 152064,
          "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}},
    vision={"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
            "hidden_act": "silu", "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2,
            "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2},
    parameters=8_292_166_656,
    lora_r64_qv=28 * 64 * ((3584 + 3584) + (3584 + 512)),  # 20,185,088: the same language model shapes
)  # fmt: skip

QWEN3_VL_8B = RealArchitecture(
    hub_id="Qwen/Qwen3-VL-8B-Instruct",
    model_class="Qwen3VLForConditionalGeneration",
    config_class="Qwen3VLConfig",
    text={"hidden_size": 4096, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
          "head_dim": 128, "intermediate_size": 12288, "vocab_size": 151936,
          "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [24, 20, 20],
                              "mrope_interleaved": True}},
    vision={"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16, "out_hidden_size": 4096,
            "hidden_act": "gelu_pytorch_tanh", "patch_size": 16, "temporal_patch_size": 2, "spatial_merge_size": 2,
            "num_position_embeddings": 2304, "deepstack_visual_indexes": [8, 16, 24]},
    parameters=8_767_123_696,
    lora_r64_qv=36 * 64 * ((4096 + 32 * 128) + (4096 + 8 * 128)),  # 30,670,848
)  # fmt: skip

# training config -> the released model it fine-tunes
REAL_CONFIGS = {
    "qwen2vl_7b_lora_sft.yaml": QWEN2_VL_7B,
    "qwen2_5vl_7b_lora_sft.yaml": QWEN2_5_VL_7B,
    "qwen3vl_8b_lora_sft.yaml": QWEN3_VL_8B,
}


def build_config(arch: RealArchitecture):
    """The transformers config of ``arch`` (tie_word_embeddings false, as released)."""
    import transformers

    config_class = getattr(transformers, arch.config_class)
    return config_class(text_config=dict(arch.text), vision_config=dict(arch.vision), tie_word_embeddings=False)
