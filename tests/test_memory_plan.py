"""The memory plan: its arithmetic on in-memory inputs, the activation count on released architectures (meta device),
the published measurements it must reproduce, and `python -m plugins.plan` on every training config."""

from pathlib import Path

import pytest

from plugins.activation_count import CountSettings, count_activations
from plugins.memory_plan import GIB, PlanInputs, largest_batch, plan_terms, total_bytes, with_changes
from plugins.released_architectures import RELEASED, model_config, released_config
from tests.preflight_fixtures import (
    DATASETS_PROGRESS_BARS,
    cold_datasets_cache,
    config,
    record,
    write_config,
    write_datasets,
)
from tests.published_totals import PUBLISHED, REAL_CONFIGS

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAINING_CONFIGS = sorted(
    path for path in (REPO_ROOT / "configs").glob("*.yaml") if "export_dir" not in path.read_text(encoding="utf-8")
)
INPUTS = PlanInputs(
    frozen_parameters=8_000_000_000,
    trainable_parameters=20_000_000,
    largest_layer_parameters=200_000_000,
    weight_bytes=2,
    activation_bytes_per_sample=1 * GIB,
    tokens_per_sample=500,
    vocab_size=150_000,
    zero_stage=0,
    deepspeed_buffer_bytes=0,
    gpus=8,
    liger=False,
)


@pytest.fixture(autouse=True)
def _plan_cache_in_tmp(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "plan-cache"))  # shared by the tests


def test_terms_follow_the_zero_stage_and_liger():
    plain = plan_terms(INPUTS, batch=2)
    assert plain["base weights"] == 16_000_000_000
    assert plain["trainable (LoRA) weights, gradients, Adam"] == 20_000_000 * 16
    assert plain["activations"] == 2 * GIB
    assert plain["logits + loss"] == 2 * 500 * 150_000 * 10
    zero3 = plan_terms(with_changes(INPUTS, zero_stage=3), batch=2)
    assert zero3["base weights"] == 16_000_000_000 // 8 + 2 * 200_000_000 * 2  # split, plus two gathered layers
    assert plan_terms(with_changes(INPUTS, liger=True), batch=2)["logits + loss"] == 0


def test_largest_batch_is_the_last_that_fits():
    budget = 40 * GIB
    batch = largest_batch(INPUTS, budget)
    assert batch > 1
    assert total_bytes(INPUTS, batch) <= budget < total_bytes(INPUTS, batch + 1)
    assert largest_batch(INPUTS, 10 * GIB) == 0  # the weights alone do not fit


def test_released_table_builds_the_published_models():
    """plugins/released_architectures.py's configs give the published totals (tests/published_totals.py)."""
    from plugins.lora_targets import lora_placement

    for hub_id in REAL_CONFIGS.values():
        settings = {"model_name_or_path": hub_id, "lora_target": "q_proj,v_proj", "lora_rank": 64}
        placement = lora_placement(released_config(hub_id), settings)
        assert placement.total_parameters == PUBLISHED[hub_id].parameters, hub_id
        assert placement.trainable_parameters == PUBLISHED[hub_id].lora_r64_qv
    assert set(RELEASED) >= set(REAL_CONFIGS.values())
    two_b = lora_placement(released_config("Qwen/Qwen2-VL-2B-Instruct"), {"model_name_or_path": "Qwen/Qwen2-VL-2B"})
    assert two_b.total_parameters == 2_208_985_600  # the hub's 2.21 B (tied embeddings)


def test_per_layer_count_equals_the_whole_model_count(tiny_model_dir):
    """Counting one layer of each kind and scaling by the layer count gives what the whole model keeps."""
    from plugins import activation_count

    text_config = model_config(str(tiny_model_dir))[0].text_config
    settings = CountSettings(tokens=64, lora_targets=("q_proj", "v_proj"), dtype="float32")
    for checkpointing in (False, True):
        counted = count_activations(text_config, with_checkpointing(settings, checkpointing))
        whole = activation_count._language_model(
            text_config, settings, activation_count._layer_types(text_config)
        )  # every layer
        assert counted.saved_bytes == activation_count._saved_bytes(whole, settings, checkpointing)


def with_checkpointing(settings: CountSettings, on: bool) -> CountSettings:
    from dataclasses import replace

    return replace(settings, gradient_checkpointing=on)


def test_fused_attention_keeps_no_score_matrix_and_checkpointing_keeps_layer_inputs():
    text_config = released_config("Qwen/Qwen2-VL-7B-Instruct").text_config
    layers, hidden = text_config.num_hidden_layers, text_config.hidden_size

    def count(tokens, attention, checkpointing=False):
        return count_activations(
            text_config, CountSettings(tokens, attention, checkpointing, ("q_proj", "v_proj"), 64, 0.05)
        )

    fused_256, fused_1024 = count(256, "sdpa").saved_bytes, count(1024, "sdpa").saved_bytes
    eager_256, eager_1024 = count(256, "eager").saved_bytes, count(1024, "eager").saved_bytes
    assert fused_1024 == pytest.approx(4 * fused_256, rel=0.01)  # linear in tokens
    assert eager_1024 > 4.5 * eager_256  # eager keeps tokens x tokens scores per head
    checkpointed = count(1024, "sdpa", checkpointing=True)
    inputs = layers * 1024 * hidden * 2 + 1024 * hidden * 4  # each layer's bf16 input, the final norm's float32 copy
    assert inputs <= checkpointed.saved_bytes <= 1.01 * inputs  # and the rotary tables
    assert checkpointed.layer_bytes == pytest.approx(fused_1024 / layers, rel=0.02)  # recomputed one at a time


# Qwen3-VL-8B LoRA r16 q/k/v/o, batch 1, no gradient checkpointing, ZeRO-3 on one A40 (REFERENCE §9): tokens -> GB
QWEN3_VL_MEASURED = {276: 22.1, 540: 25.3, 1068: 31.6, 1596: 37.9}


@pytest.mark.parametrize("tokens", sorted(QWEN3_VL_MEASURED))
def test_plan_reproduces_published_qwen3_vl_measurements(tokens, capsys):
    from plugins.plan import main

    args = [
        "configs/qwen3vl_8b_lora_sft.yaml", "--gpus", "1", "--gpu-memory", "48", "--tokens", str(tokens),
        "per_device_train_batch_size=1", "lora_rank=16", "lora_target=q_proj,k_proj,v_proj,o_proj",
        "disable_gradient_checkpointing=true", "deepspeed=configs/deepspeed/ds_z3_config.json",
    ]  # fmt: skip
    with pytest.raises(SystemExit) as exit_code:
        main(args)
    assert exit_code.value.code == 0
    total_gib = float(next(line for line in capsys.readouterr().out.splitlines() if "total" in line).split()[1])
    assert total_gib * GIB / 1e9 == pytest.approx(QWEN3_VL_MEASURED[tokens], rel=0.20)


def _plan(path: Path, tmp_path: Path, *extra: str, capsys) -> tuple[int, str]:
    from plugins.plan import main

    with pytest.raises(SystemExit) as exit_code:
        main([str(path), f"output_dir={tmp_path / 'out'}", "--gpus", "8", "--gpu-memory", "80", *extra])
    return exit_code.value.code, capsys.readouterr().out


@pytest.mark.parametrize("path", TRAINING_CONFIGS, ids=lambda path: path.name)
def test_plan_runs_on_every_training_config(path, tmp_path, capsys):
    code, out = _plan(path, tmp_path, capsys=capsys)
    assert code == 0, out  # every shipped config fits 8 x 80 GiB
    assert "fits" in out and "largest per_device_train_batch_size that fits:" in out
    for term in ("base weights", "trainable (LoRA)", "activations", "logits + loss", "CUDA context"):
        assert term in out
    if path.name in REAL_CONFIGS:
        assert f"{PUBLISHED[REAL_CONFIGS[path.name]].lora_r64_qv / 1e6:.1f} M trainable" in out


def test_plan_says_what_to_change_when_it_does_not_fit(tmp_path, capsys):
    seed = REPO_ROOT / "configs" / "qwen2vl_7b_lora_sft.yaml"
    code, out = _plan(seed, tmp_path, "--tokens", "4096", "per_device_train_batch_size=64", capsys=capsys)
    assert code == 1 and "DOES NOT FIT" in out
    assert "enable_liger_kernel: true" in out and "ZeRO-3" in out and "video_max_pixels" in out


def test_plan_counts_token_lengths_with_the_preflight(tiny_model_dir, sample_dir, tmp_path, capsys):
    clips = sorted((sample_dir / "videos").rglob("*.mp4"))[:3]
    write_datasets(tmp_path, {"clips_train": [record(f"s{n}", str(clip)) for n, clip in enumerate(clips)]})
    path = write_config(tmp_path / "run.yaml", config(tiny_model_dir, tmp_path))
    code, out = _plan(Path(path), tmp_path, capsys=capsys)
    assert code == 0
    line = next(line for line in out.splitlines() if "tokens per sample" in line)
    assert "preflight's token count over 3 samples" in line and "max 1024" not in line


def test_counts_are_cached_by_what_decides_them(tmp_path, monkeypatch):
    from plugins.plan_cache import cache_path, cached

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"saved": 7}

    assert cached({"what": "x", "tokens": 1}, compute) == {"saved": 7}
    assert cached({"what": "x", "tokens": 1}, compute) == {"saved": 7}
    assert len(calls) == 1 and cache_path().is_file() and cache_path().parent == tmp_path / "qwen-video-plan"
    cached({"what": "x", "tokens": 2}, compute)
    assert len(calls) == 2


def _tiny_run_with_a_dataset(tiny_model_dir, sample_dir, tmp_path) -> Path:
    clips = sorted((sample_dir / "videos").rglob("*.mp4"))[:2]
    write_datasets(tmp_path, {"clips_train": [record(f"s{n}", str(clip)) for n, clip in enumerate(clips)]})
    return Path(write_config(tmp_path / "run.yaml", config(tiny_model_dir, tmp_path)))


def test_a_missing_deepspeed_json_is_one_clear_error(tiny_model_dir, sample_dir, tmp_path, capsys, monkeypatch):
    """Checked before the datasets load: a first run (cold datasets cache) prints the one sentence and nothing else."""
    from plugins.plan import main

    cache = cold_datasets_cache(monkeypatch, tmp_path / "datasets-cache")
    path = _tiny_run_with_a_dataset(tiny_model_dir, sample_dir, tmp_path)
    with pytest.raises(SystemExit) as exit_code:
        main([str(path), "deepspeed=no/such.json", f"output_dir={tmp_path / 'out'}"])
    assert exit_code.value.code == 2
    assert capsys.readouterr().err.startswith("plan FAILED: deepspeed no/such.json: cannot read")
    assert not cache.exists() or not any(cache.iterdir()), "the datasets were loaded before the deepspeed JSON was read"


def test_the_plan_console_shows_no_datasets_progress_bars(tiny_model_dir, sample_dir, tmp_path, capsys, monkeypatch):
    """The token count loads the datasets (on a cold cache: generating and converting them): not on screen."""
    from plugins.plan import main

    cold_datasets_cache(monkeypatch, tmp_path / "datasets-cache")
    path = _tiny_run_with_a_dataset(tiny_model_dir, sample_dir, tmp_path)
    with pytest.raises(SystemExit) as exit_code:
        main([str(path), f"output_dir={tmp_path / 'out'}"])
    printed = capsys.readouterr()
    assert exit_code.value.code == 0 and "preflight's token count over 2 samples" in printed.out
    assert not [bar for bar in DATASETS_PROGRESS_BARS if bar in printed.err], printed.err
