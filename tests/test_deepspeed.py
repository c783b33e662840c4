"""Scale-out path on CPU: `python -m plugins.train` under torchrun with DeepSpeed ZeRO-2, two processes.

The same command as 8 GPUs or 2 nodes (FORCE_TORCHRUN / NPROC_PER_NODE / NNODES ...), with the repo's own
configs/deepspeed/ds_z2_config.json. The first run on a fresh clone compiles a DeepSpeed CPU op with g++ (about
a minute and a half here); it is cached under TORCH_EXTENSIONS_DIR (.cache/torch_extensions) for later runs.
"""

import json

import pytest
import torch

from tests.training_fixtures import REPO_ROOT, log_of, run_entry_point, write_train_config

ZERO2_CONFIG = REPO_ROOT / "configs" / "deepspeed" / "ds_z2_config.json"
STEPS = 2


@pytest.mark.slow
def test_two_cpu_ranks_train_under_deepspeed_zero2_and_save_one_adapter(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=STEPS, save_strategy="steps",
                                save_steps=STEPS)  # fmt: skip
    result = run_entry_point("plugins.train", config, f"deepspeed={ZERO2_CONFIG}",
                             env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"})  # fmt: skip
    log, saves = log_of(result), tmp_path / "saves"
    assert result.returncode == 0, log[-4000:]  # torchrun exits non-zero if any rank failed

    # both ranks joined one process group and each registered our template (training ran in each)
    assert "-m plugins.train_worker" in log
    full_log = (saves / "train.log").read_text()  # every rank appends LLaMA-Factory's INFO lines there
    for rank in (0, 1):
        assert f"Process rank: {rank}, world size: 2" in full_log

    # DeepSpeed really ran ZeRO stage 2 over both ranks: one optimizer partition per rank in the checkpoint
    step_dir = saves / f"checkpoint-{STEPS}" / f"global_step{STEPS}"
    model_states = torch.load(step_dir / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False)
    assert model_states["dp_world_size"] == 2
    assert model_states["ds_config"]["zero_optimization"]["stage"] == 2
    for rank in (0, 1):
        optimizer = torch.load(step_dir / f"zero_pp_rank_{rank}_mp_rank_00_optim_states.pt", map_location="cpu",
                               weights_only=False)["optimizer_state_dict"]  # fmt: skip
        assert int(optimizer["zero_stage"]) == 2 and optimizer["partition_count"] == [2]

    # exactly one final adapter, written once (by rank 0)
    assert sorted(path.name for path in saves.glob("adapter_model.*")) == ["adapter_model.safetensors"]
    assert full_log.count(f"Saving model checkpoint to {saves}\n") == 1
    assert json.loads((saves / "trainer_state.json").read_text())["global_step"] == STEPS
