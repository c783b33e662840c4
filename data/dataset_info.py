"""Register the converter's splits in a LLaMA-Factory ``dataset_info.json`` without touching other entries."""

import json
import os
from pathlib import Path

from data.splits import SPLITS

DATASET_NAME_PREFIX = "webvid_"
DATASET_INFO_NAME = "dataset_info.json"


def split_file_name(split: str) -> str:
    return f"{DATASET_NAME_PREFIX}{split}.json"


def sharegpt_video_entry(file_name: str) -> dict:
    """A ShareGPT video dataset entry: messages/videos columns, role/content/user/assistant tags (REFERENCE §4)."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }


def file_name_for(data_file: Path, dataset_info_path: Path) -> str:
    """``data_file`` relative to the dataset_info.json folder (LLaMA-Factory's dataset_dir), else absolute."""
    dataset_dir = os.path.abspath(dataset_info_path.parent)
    absolute = os.path.abspath(data_file)
    if absolute.startswith(dataset_dir + os.sep):
        return Path(os.path.relpath(absolute, dataset_dir)).as_posix()
    return absolute


def registered_splits(dataset_info_path: Path, out_dir: Path) -> tuple[dict, dict[str, dict]]:
    """(``dataset_info_path``'s entries with webvid_train/val/test added or replaced, the new entries)."""
    dataset_info_path = Path(dataset_info_path)
    existing = {}
    if dataset_info_path.exists():
        try:
            existing = json.loads(dataset_info_path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(
                f"{dataset_info_path} is not valid JSON ({error}); fix or remove it, then re-run"
            ) from None
        if not isinstance(existing, dict):
            raise ValueError(f"{dataset_info_path} must hold a JSON object of dataset entries")
    entries = {
        f"{DATASET_NAME_PREFIX}{split}": sharegpt_video_entry(
            file_name_for(out_dir / split_file_name(split), dataset_info_path)
        )
        for split in SPLITS
    }
    return {**existing, **entries}, entries


def dataset_info_text(info: dict) -> str:
    return json.dumps(info, indent=2, ensure_ascii=False) + "\n"
