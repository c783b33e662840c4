"""Datasets and configs for the preflight tests (tests/test_preflight.py, tests/test_preflight_parallel.py)."""

import json
from pathlib import Path

CAPTION = "A red circle moves left on a blue background"
SHAREGPT_ENTRY = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages", "videos": "videos"},
    "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
}


def record(sample_id, video, caption=CAPTION, prompt="<video>Describe this video in one sentence."):
    """One ShareGPT video record as data.convert_webvid writes it."""
    return {
        "id": sample_id,
        "videos": [video],
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": caption}],
    }


def write_datasets(root: Path, datasets: dict[str, list[dict]]) -> None:
    """ROOT/<name>.json for each dataset and ROOT/dataset_info.json registering them."""
    for name, dataset in datasets.items():
        (root / f"{name}.json").write_text(json.dumps(dataset))
    info = {name: {**SHAREGPT_ENTRY, "file_name": f"{name}.json"} for name in datasets}
    (root / "dataset_info.json").write_text(json.dumps(info))


def config(tiny_model_dir, dataset_dir, **overrides):
    """A training config over ``dataset_dir`` on the tiny model, as the preflight reads it."""
    return {
        "model_name_or_path": str(tiny_model_dir),
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "dataset": "clips_train",
        "dataset_dir": str(dataset_dir),
        "template": "qwen2_vl_exact",
        "cutoff_len": 1024,
        "video_maxlen": 8,
        "video_fps": 8.0,
        "video_max_pixels": 50176,
        "output_dir": str(dataset_dir / "out"),
        "report_to": "none",
        "overwrite_cache": True,
        **overrides,
    }


def write_config(path: Path, args: dict) -> str:
    path.write_text(json.dumps(args))  # JSON is YAML
    return str(path)


DATASETS_PROGRESS_BARS = ("Generating train split", "Converting format of dataset", "Map:")  # datasets' bar labels


def cold_datasets_cache(monkeypatch, folder: Path) -> Path:
    """Point the datasets cache at an empty ``folder`` (a first run's cold cache), for this process and its children:
    datasets reads HF_DATASETS_CACHE once, at import, into datasets.config."""
    import datasets.config

    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", folder)
    return folder
