"""What LoRA adapts, per part, on each family's released architecture (meta device) as LLaMA-Factory 0.9.5 places it,
and the preflight's line and error about it."""

import pytest

from plugins.lora_targets import LoraPlacement, LoraTargetError, check_frozen_vision, format_placement, lora_placement
from plugins.released_architectures import released_config
from tests.published_totals import REAL_CONFIGS

MLP = "gate_proj,up_proj,down_proj"  # also the names of Qwen2.5-VL's vision MLP


QWEN2_5_VL_7B, QWEN3_VL_8B = "Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen3-VL-8B-Instruct"


def _placement(hub_id, **settings):
    return lora_placement(released_config(hub_id), {"model_name_or_path": hub_id, "lora_rank": 8, **settings})


@pytest.mark.parametrize("hub_id", sorted(REAL_CONFIGS.values()))
def test_a_frozen_vision_tower_gets_no_lora_from_llamafactory(hub_id):
    """LLaMA-Factory 0.9.5 drops vision-tower and merger modules from lora_target (a list or `all`) when
    freeze_vision_tower is true, so the preflight's error below guards an upgrade, not today's behaviour."""
    layers = released_config(hub_id).text_config.num_hidden_layers
    for target in ("all", MLP, "q_proj,v_proj"):
        placement = _placement(hub_id, lora_target=target, freeze_vision_tower=True)
        assert placement.modules["vision tower"] == [] and placement.modules["merger"] == [], target
        check_frozen_vision(placement, freeze_vision_tower=True)
    assert len(_placement(hub_id, lora_target=MLP).modules["language model"]) == 3 * layers
    assert len(_placement(hub_id, lora_target="all").modules["language model"]) == 7 * layers


def test_unfrozen_qwen2_5_vl_mlp_targets_reach_its_vision_blocks():
    placement = _placement(QWEN2_5_VL_7B, lora_target=MLP, freeze_vision_tower=False)
    assert len(placement.modules["vision tower"]) == 3 * released_config(QWEN2_5_VL_7B).vision_config.depth
    assert placement.parameters["vision tower"] > 0 and placement.modules["merger"] == []
    assert "vision tower 96 modules" in format_placement(placement)


def test_qwen3_vl_all_on_an_unfrozen_tower_adapts_its_deepstack_mergers_not_the_final_merger():
    """LLaMA-Factory lists Qwen3-VL's DeepStack mergers under the vision tower, the final merger as the projector
    (kept frozen by freeze_multi_modal_projector)."""
    placement = _placement(QWEN3_VL_8B, lora_target="all", freeze_vision_tower=False)
    assert placement.modules["vision tower"]
    assert placement.modules["merger"] and all(
        ".deepstack_merger_list." in name for name in placement.modules["merger"]
    )


def test_lora_in_a_frozen_vision_tower_is_an_error_naming_the_modules():
    placement = LoraPlacement()
    placement.modules["vision tower"] = [f"model.visual.blocks.{n}.mlp.up_proj" for n in range(5)]
    with pytest.raises(LoraTargetError, match=r"5 vision-tower modules \(model\.visual\.blocks\.0\.mlp\.up_proj"):
        check_frozen_vision(placement, freeze_vision_tower=True)
    check_frozen_vision(placement, freeze_vision_tower=False)  # trained on purpose


def test_preflight_prints_what_lora_adapts(tiny_model_dir, sample_dir, tmp_path, capsys):
    from plugins import preflight
    from tests.preflight_fixtures import config, record, write_datasets

    clip = sorted((sample_dir / "videos").rglob("*.mp4"))[0]
    write_datasets(tmp_path, {"clips_train": [record("s0", str(clip))]})
    preflight.check(config(tiny_model_dir, tmp_path, lora_target="q_proj,v_proj"), preflight.PreflightOptions())
    line = next(line for line in capsys.readouterr().out.splitlines() if "LoRA adapts:" in line)
    assert "language model 8 modules" in line and "vision tower 0 modules" in line
