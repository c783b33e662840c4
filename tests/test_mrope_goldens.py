"""M-RoPE position ids of each family's tiny model on fixed video grids, held against small JSON goldens: an upgrade
of transformers that moves a position fails here, loudly, instead of silently changing what a trained adapter sees.

    python -m tests.test_mrope_goldens      # rewrite tests/goldens/mrope_positions.json (after checking the change)

Each case is text, one 8-frame clip's video tokens (grid t x h x w, merge 2) and text, as the chat template lays them
out (Qwen3-VL and Qwen3.5: timestamp text and vision start/end around each temporal patch). transformers 5.6.0's
Qwen2.5-VL multiplies the temporal step by ``int(second_per_grid_ts)``: a clip whose 8 frames span less than 4 s
(2 frames per patch / (8 frames / duration) < 1 s) gives every temporal patch the same position; the goldens hold
that too (transformers PR #48669 keeps the float, and then this test fails and says so).
"""

import json
from pathlib import Path

import pytest
import torch

GOLDENS = Path(__file__).parent / "goldens" / "mrope_positions.json"
GRID = (4, 4, 4)  # 8 frames -> 4 temporal patches of 4 x 4 patches -> 4 merged tokens each
TEXT, VIDEO = 0, 2  # mm_token_type_ids
# family -> (tiny model folder, layout: qwen2 one video block, qwen3 a block per temporal patch with timestamp text)
FAMILIES = {
    "qwen2_vl": ("models/tiny-qwen2vl", "qwen2"),
    "qwen2_5_vl": ("models/tiny-qwen2_5vl", "qwen2"),
    "qwen3_vl": ("models/tiny-qwen3vl", "qwen3"),
    "qwen3_5": ("models/tiny-qwen3_5", "qwen3"),
}
# Qwen2.5-VL: 8 frames over 30 s (7.5 s a temporal patch) and over 3 s (0.75 s: int() makes it 0)
SECONDS_PER_PATCH = {"qwen2_5_vl_30s": 7.5, "qwen2_5_vl_3s": 0.75}


def _token_types(layout: str) -> list[int]:
    t, h, w = GRID
    per_patch = [VIDEO] * (h * w // 4)
    if layout == "qwen2":
        return [TEXT] * 3 + per_patch * t + [TEXT] * 2
    return [TEXT] * 3 + [tok for _ in range(t) for tok in [TEXT] * 3 + per_patch + [TEXT]] + [TEXT] * 2


def positions(family: str, seconds_per_patch: float | None = None) -> list[list[int]]:
    """The (3, tokens) position ids the family's get_rope_index gives the fixed case."""
    from transformers import AutoModelForImageTextToText

    folder, layout = FAMILIES[family]
    model = AutoModelForImageTextToText.from_pretrained(Path(__file__).parents[1] / folder)
    types = torch.tensor([_token_types(layout)])
    kwargs = {"second_per_grid_ts": torch.tensor([seconds_per_patch])} if seconds_per_patch is not None else {}
    ids, _ = model.model.get_rope_index(
        torch.zeros_like(types), types, video_grid_thw=torch.tensor([GRID]), attention_mask=None, **kwargs
    )
    return ids[:, 0].tolist()


def cases() -> dict[str, list[list[int]]]:
    found = {family: positions(family) for family in FAMILIES if family != "qwen2_5_vl"}
    found.update({name: positions("qwen2_5_vl", seconds) for name, seconds in SECONDS_PER_PATCH.items()})
    return found


@pytest.mark.parametrize("case", [*(f for f in FAMILIES if f != "qwen2_5_vl"), *SECONDS_PER_PATCH])
def test_positions_match_the_golden(case, tiny_model_dir, tiny_qwen2_5vl_dir, tiny_qwen3vl_dir, tiny_qwen3_5_dir):
    golden = json.loads(GOLDENS.read_text(encoding="utf-8"))[case]
    family = "qwen2_5_vl" if case in SECONDS_PER_PATCH else case
    found = positions(family, SECONDS_PER_PATCH.get(case))
    assert found == golden, (
        f"{case}: M-RoPE positions moved (transformers upgrade?): adapters trained before see other positions; "
        "check the change, then rewrite the goldens with python -m tests.test_mrope_goldens"
    )


def test_qwen2_5_vl_collapses_the_time_axis_of_a_clip_under_4_seconds(tiny_qwen2_5vl_dir):
    """transformers 5.6.0: int(0.75) = 0, so all 4 temporal patches share one temporal position."""
    t, h, w = GRID
    start = 3  # after the leading text
    tokens_per_patch = h * w // 4

    def temporal(seconds):
        axis = positions("qwen2_5_vl", seconds)[0]
        return [axis[start + patch * tokens_per_patch] for patch in range(t)]

    assert len(set(temporal(0.75))) == 1
    assert len(set(temporal(7.5))) == t  # 7 x tokens_per_second apart


def main() -> None:
    GOLDENS.parent.mkdir(parents=True, exist_ok=True)
    GOLDENS.write_text(json.dumps(cases()) + "\n", encoding="utf-8")
    print(f"wrote {GOLDENS}")


if __name__ == "__main__":
    main()
