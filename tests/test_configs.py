"""Every config under configs/ parses with LLaMA-Factory's own argument parser, with our plugin registered.

Training YAMLs go through ``get_train_args``, merge/export YAMLs (those with ``export_dir``) through
``get_infer_args``: unknown or misspelled keys, bad values and cross-field conflicts fail here, not on a GPU.
Parsing never loads a model or tokenizer, so hub ids such as Qwen/Qwen2-VL-7B-Instruct are not downloaded.
Each real-size config's LoRA is then built by LLaMA-Factory's own adapter code on the weightless (meta) released
architecture it trains (Qwen2-VL-7B, Qwen2.5-VL-7B, Qwen3-VL-8B: plugins/released_architectures.py) and its parameter
counts are checked against the published ones (tests/published_totals.py); each tiny demo config's LoRA on its
embedded tiny model.
"""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import plugins
from plugins.released_architectures import released_config
from plugins.run_config import load_run_config
from tests.published_totals import PUBLISHED, REAL_CONFIGS

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"
YAML_CONFIGS = sorted([*CONFIG_DIR.rglob("*.yaml"), *CONFIG_DIR.rglob("*.yml")])
DEEPSPEED_JSONS = sorted(CONFIG_DIR.rglob("*.json"))
SEED_CONFIG = CONFIG_DIR / "qwen2vl_7b_lora_sft.yaml"
# The configs this repository ships: held to its recipe and style. A config a user adds under configs/ is only
# parsed (LLaMA-Factory's parser, the datasets it names); its recipe is the user's.
SHIPPED_CONFIGS = (
    "configs/qwen2vl_7b_lora_sft.yaml",
    "configs/qwen2vl_2b_lora_sft.yaml",
    "configs/tiny_qwen2vl_demo.yaml",
    "configs/merge/qwen2vl_7b_lora_merge.yaml",
    "configs/merge/tiny_qwen2vl_demo_merge.yaml",
    "configs/qwen2_5vl_7b_lora_sft.yaml",
    "configs/tiny_qwen2_5vl_demo.yaml",
    "configs/merge/qwen2_5vl_7b_lora_merge.yaml",
    "configs/merge/tiny_qwen2_5vl_demo_merge.yaml",
    "configs/qwen3vl_8b_lora_sft.yaml",
    "configs/tiny_qwen3vl_demo.yaml",
    "configs/merge/qwen3vl_8b_lora_merge.yaml",
    "configs/merge/tiny_qwen3vl_demo_merge.yaml",
    "configs/tiny_qwen3_5_demo.yaml",
    "configs/merge/tiny_qwen3_5_demo_merge.yaml",
)

# DeepSpeed keys whose value TrainingArguments (the YAML) sets; a number here would be a second home for it
# (transformers' HfTrainerDeepSpeedConfig.trainer_config_process fills exactly these from the training args).
YAML_OWNED_DEEPSPEED_KEYS = (
    "train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping",
    "fp16.enabled", "bf16.enabled", "optimizer.params.lr", "optimizer.params.betas", "optimizer.params.eps",
    "optimizer.params.weight_decay", "scheduler.params.warmup_max_lr", "scheduler.params.total_num_steps",
    "scheduler.params.warmup_num_steps",
)  # fmt: skip

# tiny demo config -> conftest fixture that builds its embedded model
DEMO_CONFIGS = {
    "tiny_qwen2vl_demo.yaml": "tiny_model_dir",
    "tiny_qwen2_5vl_demo.yaml": "tiny_qwen2_5vl_dir",
    "tiny_qwen3vl_demo.yaml": "tiny_qwen3vl_dir",
    "tiny_qwen3_5_demo.yaml": "tiny_qwen3_5_dir",
}


def load_yaml(path: Path) -> dict:
    """The config as every entry point reads it (plugins.run_config, LLaMA-Factory's read_args)."""
    return load_run_config(path)


def is_export_config(config: dict) -> bool:
    return "export_dir" in config


def training_configs() -> list[Path]:
    return [path for path in YAML_CONFIGS if not is_export_config(load_yaml(path))]


def export_configs() -> list[Path]:
    return [path for path in YAML_CONFIGS if is_export_config(load_yaml(path))]


def parse_training_config(path: Path):
    """LLaMA-Factory's get_train_args on the YAML.

    ``use_cpu`` is added because transformers refuses ``bf16: true`` on a machine without a GPU; it changes no
    other check. The model path is left as written: parsing does not touch the model or the hub.
    """
    from llamafactory.hparams import get_train_args

    return get_train_args({**load_yaml(path), "use_cpu": True})


def _relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


@pytest.fixture(autouse=True)
def _strict_parsing(monkeypatch):
    monkeypatch.delenv("ALLOW_EXTRA_ARGS", raising=False)  # LLaMA-Factory would then accept unknown keys
    plugins.register()


def test_the_expected_configs_exist():
    names = {_relative(path) for path in YAML_CONFIGS}
    assert set(SHIPPED_CONFIGS) <= names
    assert {"configs/deepspeed/ds_z2_config.json", "configs/deepspeed/ds_z3_config.json"} <= {
        _relative(path) for path in DEEPSPEED_JSONS
    }


def shipped(paths: list[Path]) -> list[Path]:
    return [path for path in paths if _relative(path) in SHIPPED_CONFIGS]


@pytest.mark.parametrize("path", shipped(YAML_CONFIGS), ids=_relative)
def test_every_shipped_config_starts_with_the_command_that_runs_it(path):
    header = path.read_text(encoding="utf-8").split("\n###")[0]
    assert header.startswith("#"), f"{_relative(path)} must start with a comment showing how to run it"
    commands = [line for line in header.splitlines() if re.search(r"\b(make \w+|python -m [\w.]+)", line)]
    assert any(_relative(path) in line or "make demo" in line for line in commands), (
        f"{_relative(path)}: no command in its header names the file itself"
    )


@pytest.mark.parametrize("path", training_configs(), ids=_relative)
def test_training_config_parses_with_llamafactory(path):
    from llamafactory.data.template import TEMPLATES

    model_args, data_args, training_args, finetuning_args, _ = parse_training_config(path)
    assert data_args.template in TEMPLATES, f"{_relative(path)}: template {data_args.template!r} is not registered"
    if _relative(path) not in SHIPPED_CONFIGS:
        return  # a user's own config: LLaMA-Factory's parser accepted it; the recipe below is ours
    assert finetuning_args.finetuning_type == "lora"
    assert model_args.video_maxlen == 8 and model_args.video_fps >= model_args.video_maxlen
    # config stem = output directory name, so a run's files are found from the config's name
    assert Path(training_args.output_dir).name == path.stem
    # a rerun after a kill resumes from the last checkpoint (tests/test_resume.py) instead of starting at step 1
    assert training_args.overwrite_output_dir is False, f"{_relative(path)}: set overwrite_output_dir: false"
    # every dataset it names is registered in the dataset_info.json it reads
    dataset_info = json.loads((REPO_ROOT / data_args.dataset_dir / "dataset_info.json").read_text(encoding="utf-8"))
    for name in [*(data_args.dataset or []), *(data_args.eval_dataset or [])]:
        assert name in dataset_info, (
            f"{_relative(path)}: dataset {name!r} is not in {data_args.dataset_dir}/dataset_info.json"
        )


@pytest.mark.parametrize("path", export_configs(), ids=_relative)
def test_export_config_parses_and_merges_what_a_training_config_trains(path):
    from llamafactory.data.template import TEMPLATES
    from llamafactory.hparams import get_infer_args

    model_args, data_args, finetuning_args, _ = get_infer_args(load_yaml(path))
    assert model_args.export_dir and model_args.export_device == "cpu"
    assert data_args.template in TEMPLATES
    assert finetuning_args.finetuning_type == "lora" and len(model_args.adapter_name_or_path) == 1

    trained_by = {load_yaml(train)["output_dir"]: train for train in training_configs()}
    adapter = model_args.adapter_name_or_path[0]
    assert adapter in trained_by, f"{_relative(path)}: adapter {adapter} is no training config's output_dir"
    training = load_yaml(trained_by[adapter])
    assert model_args.model_name_or_path == training["model_name_or_path"], "merging into another base model"
    assert data_args.template == training["template"]


def deepspeed_references() -> list[tuple[Path, str]]:
    """(config, DeepSpeed JSON) for every `deepspeed:` value and every configs/deepspeed/*.json in a config's text."""
    references = []
    for path in YAML_CONFIGS:
        named = set(re.findall(r"configs/deepspeed/[\w.-]+\.json", path.read_text(encoding="utf-8")))
        if load_yaml(path).get("deepspeed"):
            named.add(load_yaml(path)["deepspeed"])
        references += [(path, json_path) for json_path in sorted(named)]
    return references


def test_every_referenced_deepspeed_json_exists():
    references = deepspeed_references()
    assert references, "no config shows how to run under DeepSpeed"
    for config, json_path in references:
        assert (REPO_ROOT / json_path).is_file(), f"{_relative(config)} names {json_path}, which does not exist"


def _value_at(config: dict, dotted_key: str):
    node = config
    for part in dotted_key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@pytest.mark.parametrize("json_path", DEEPSPEED_JSONS, ids=_relative)
def test_deepspeed_values_the_yaml_owns_are_auto(json_path):
    config = json.loads(json_path.read_text(encoding="utf-8"))
    assert config["zero_optimization"]["stage"] in (2, 3)
    for key in YAML_OWNED_DEEPSPEED_KEYS:
        value = _value_at(config, key)
        assert value in (None, "auto"), f'{_relative(json_path)}: {key} is {value!r}; say "auto" (the YAML owns it)'


@pytest.mark.parametrize("json_path", DEEPSPEED_JSONS, ids=_relative)
def test_deepspeed_json_fills_completely_from_the_seed_config(json_path):
    """transformers' own DeepSpeed/TrainingArguments sync: no mismatch, and no "auto" left once filled."""
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig, unset_hf_deepspeed_config

    _, _, training_args, _, _ = parse_training_config(SEED_CONFIG)
    try:
        ds_config = HfTrainerDeepSpeedConfig(str(json_path))
        ds_config.trainer_config_process(training_args)
        hidden_size = released_config(load_yaml(SEED_CONFIG)["model_name_or_path"]).text_config.hidden_size
        model = SimpleNamespace(config=SimpleNamespace(hidden_size=hidden_size))
        ds_config.trainer_config_finalize(training_args, model, num_training_steps=1000)  # raises on mismatch
        assert "auto" not in json.dumps(ds_config.config)
        assert ds_config.config["train_micro_batch_size_per_gpu"] == training_args.per_device_train_batch_size
    finally:
        unset_hf_deepspeed_config()  # the config registers itself globally (is_deepspeed_zero3_enabled)


def _lora_on_meta_model(model_config, config_path: Path):
    """LLaMA-Factory's own adapter setup (init_adapter) with the config's LoRA settings, on a weightless model."""
    from llamafactory.model.adapter import init_adapter
    from transformers import AutoModelForImageTextToText

    model_args, _, _, finetuning_args, _ = parse_training_config(config_path)
    with torch.device("meta"):
        base = AutoModelForImageTextToText.from_config(model_config)
        n_base = sum(p.numel() for p in base.parameters())
        model = init_adapter(model_config, base, model_args, finetuning_args, is_trainable=True)
    return n_base, {name: p.numel() for name, p in model.named_parameters() if p.requires_grad}, finetuning_args


@pytest.mark.parametrize("config_name", sorted(REAL_CONFIGS))
def test_real_config_lora_on_the_released_architecture_matches_counts(config_name):
    """The seed's LoRA recipe on the weightless released model: the published parameter total, LoRA r64 on the
    language model's q_proj/v_proj only (names that exist there: PEFT refuses a target it cannot find)."""
    hub_id = REAL_CONFIGS[config_name]
    assert load_yaml(CONFIG_DIR / config_name)["model_name_or_path"] == hub_id
    released = released_config(hub_id)
    n_base, trainable, finetuning_args = _lora_on_meta_model(released, CONFIG_DIR / config_name)

    assert (finetuning_args.lora_rank, finetuning_args.lora_alpha, finetuning_args.lora_dropout) == (64, 128, 0.05)
    assert finetuning_args.lora_target == ["q_proj", "v_proj"] and finetuning_args.freeze_vision_tower
    assert n_base == PUBLISHED[hub_id].parameters
    assert sum(trainable.values()) == PUBLISHED[hub_id].lora_r64_qv
    layers = released.text_config.num_hidden_layers
    assert len(trainable) == layers * 2 * 2  # layers x (q_proj, v_proj) x (lora_A, lora_B)
    outside = [
        name
        for name in trainable
        if ".language_model.layers." not in name or not re.search(r"\.(q|v)_proj\.lora_[AB]\.", name)
    ]
    assert not outside, f"LoRA outside the language model's q_proj/v_proj (the vision tower is frozen): {outside[:3]}"


@pytest.mark.parametrize("config_name", sorted(REAL_CONFIGS))
def test_real_config_trains_with_the_seed_recipe(config_name):
    """Every family's real config differs from the seed only in model and template: same frames, budget, LoRA, steps."""
    seed, config = load_yaml(SEED_CONFIG), load_yaml(CONFIG_DIR / config_name)
    differing = {key for key in seed.keys() | config.keys() if seed.get(key) != config.get(key)}
    assert differing <= {"model_name_or_path", "template", "output_dir"}, sorted(differing)


@pytest.mark.parametrize("config_name", sorted(DEMO_CONFIGS))
def test_family_demo_config_trains_with_the_demo_recipe(config_name):
    """Every family's tiny demo config differs from the default demo only in model, template and output_dir."""
    demo, config = load_yaml(CONFIG_DIR / "tiny_qwen2vl_demo.yaml"), load_yaml(CONFIG_DIR / config_name)
    differing = {key for key in demo.keys() | config.keys() if demo.get(key) != config.get(key)}
    assert differing <= {"model_name_or_path", "template", "output_dir"}, sorted(differing)


@pytest.mark.parametrize("config_name", sorted(DEMO_CONFIGS))
def test_demo_config_lora_leaves_the_vision_tower_frozen(config_name, request):
    from transformers import AutoConfig

    model_dir = request.getfixturevalue(DEMO_CONFIGS[config_name])
    assert Path(load_yaml(CONFIG_DIR / config_name)["model_name_or_path"]).resolve() == model_dir.resolve()
    model_config = AutoConfig.from_pretrained(model_dir)
    _, trainable, finetuning_args = _lora_on_meta_model(model_config, CONFIG_DIR / config_name)

    assert finetuning_args.lora_target == ["all"] and finetuning_args.freeze_vision_tower
    assert not [name for name in trainable if "visual" in name], "lora_target all must skip the frozen vision tower"
    assert any("lm_head" in name for name in trainable)  # additional_target: the random lm_head is trained in full
    assert any("mlp.down_proj.lora_A" in name for name in trainable)


# A stuck rank must fail the run within the hour, not hang it (LLaMA-Factory's examples wait 5.7 years, REFERENCE §9):
# the preflight checks and decodes every clip before torchrun starts, so ranks wait at most for rank 0's tokenizing.
MAX_DDP_TIMEOUT_S = 3600


@pytest.mark.parametrize("path", training_configs(), ids=_relative)
def test_training_config_times_out_a_stuck_rank(path):
    _, _, training_args, _, _ = parse_training_config(path)
    assert 0 < training_args.ddp_timeout <= MAX_DDP_TIMEOUT_S, (
        f"{_relative(path)}: ddp_timeout {training_args.ddp_timeout} s; set at most {MAX_DDP_TIMEOUT_S} s"
    )
