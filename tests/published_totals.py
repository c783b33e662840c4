"""What the released models our real-size configs train must add up to: the check on their config values, which
live in one place, plugins/released_architectures.py (RELEASED, released_config).

    from tests.published_totals import PUBLISHED, REAL_CONFIGS
    PUBLISHED[REAL_CONFIGS["qwen2vl_7b_lora_sft.yaml"]].parameters   # 8,291,375,616

Built on the meta device, the released configs give the published totals (8.29 B, 8.29 B, 8.77 B parameters); the
LoRA counts are the arithmetic of each language model's q_proj and v_proj shapes.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    parameters: int  # every parameter of the weightless model
    lora_r64_qv: int  # LoRA r64 on the language model's q_proj, v_proj: layers x 64 x ((in+out_q) + (in+out_v))


PUBLISHED = {
    "Qwen/Qwen2-VL-7B-Instruct": Published(
        parameters=8_291_375_616,  # REFERENCE §2
        lora_r64_qv=28 * 64 * ((3584 + 3584) + (3584 + 512)),  # 20,185,088
    ),
    "Qwen/Qwen2.5-VL-7B-Instruct": Published(
        parameters=8_292_166_656,
        lora_r64_qv=28 * 64 * ((3584 + 3584) + (3584 + 512)),  # 20,185,088: the same language model shapes
    ),
    "Qwen/Qwen3-VL-8B-Instruct": Published(
        parameters=8_767_123_696,
        lora_r64_qv=36 * 64 * ((4096 + 32 * 128) + (4096 + 8 * 128)),  # 30,670,848
    ),
}

# training config -> the hub id of the released model it fine-tunes
REAL_CONFIGS = {
    "qwen2vl_7b_lora_sft.yaml": "Qwen/Qwen2-VL-7B-Instruct",
    "qwen2_5vl_7b_lora_sft.yaml": "Qwen/Qwen2.5-VL-7B-Instruct",
    "qwen3vl_8b_lora_sft.yaml": "Qwen/Qwen3-VL-8B-Instruct",
}
