"""The dataset files a run names, checked before anything loads them: one sentence naming the file and the fix.

    from plugins.dataset_files import check_dataset_files
    check_dataset_files(settings)   # raises DatasetFileError; plugins.preflight runs it first (so plugins.train too)

``dataset`` and ``eval_dataset`` are looked up in ``dataset_dir``'s dataset_info.json by LLaMA-Factory's own
get_dataset_list. A local file that is missing, is not JSON, holds a single JSON object instead of a list of
samples, or holds no samples would otherwise fail deep inside HF datasets (``Instruction "train" corresponds to no
data!``). Hub datasets and folders of files are left to LLaMA-Factory.
"""

import json
import os
from pathlib import Path

FULL_PARSE_BYTES = 64 * 2**20  # larger files are only checked at their start: parsing them twice costs minutes
DEFAULT_DATASET_DIR = "data"  # LLaMA-Factory's DataArguments default


class DatasetFileError(ValueError):
    """A dataset file named by the run cannot be trained on; the message names the file and the fix."""


def _names(value) -> list[str]:
    """``dataset`` as LLaMA-Factory splits it: "a,b" or a list."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _empty_fix(key: str) -> str:
    if key == "eval_dataset":
        return (
            "drop eval_dataset from the config or pass `eval_dataset= eval_strategy=no` to train without "
            "validation, or convert again with a larger --val-ratio (or more rows)"
        )
    return "convert more rows into it (a larger CSV, lower --val-ratio/--test-ratio) or name another dataset"


def _content_problem(path: Path) -> str | None:
    """Why ``path`` holds no list of samples ('holds no samples', 'is not JSON ...'), or None when it does."""
    if path.stat().st_size <= FULL_PARSE_BYTES:
        text = path.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            return "holds no samples"
        if path.suffix == ".jsonl":
            rows = [line for line in text.splitlines() if line.strip()]
            return None if rows else "holds no samples"
        try:
            data = json.loads(text)
        except ValueError as error:
            if text.lstrip().startswith("{") and _is_json_lines(text):
                return None  # JSON Lines in a .json file: HF datasets reads those too
            return f"is not JSON ({error})"
        if isinstance(data, dict):
            return "holds a JSON object, not a list of samples ([{...}, ...])"
        if not isinstance(data, list):
            return f"holds a JSON {type(data).__name__}, not a list of samples ([{{...}}, ...])"
        return None if data else "holds no samples"
    with path.open(encoding="utf-8", errors="replace") as file:
        start = file.read(4096).lstrip()
    if not start.startswith(("[", "{")):
        return f"is not JSON (it starts with {start[:20]!r})"
    if start.startswith("[") and start[1:].lstrip().startswith("]"):
        return "holds no samples"
    return None


def _is_json_lines(text: str) -> bool:
    try:
        return all(isinstance(json.loads(line), dict) for line in text.splitlines() if line.strip())
    except ValueError:
        return False


def check_dataset_files(settings: dict) -> None:
    """Raise DatasetFileError for the first dataset of ``dataset``/``eval_dataset`` whose local file cannot be
    trained on (missing, not JSON, one object, no samples), naming the key, the dataset, its file and the fix."""
    from llamafactory.data.parser import get_dataset_list

    dataset_dir = str(settings.get("dataset_dir") or DEFAULT_DATASET_DIR)
    for key in ("dataset", "eval_dataset"):
        names = _names(settings.get(key))
        if not names:
            continue
        try:
            attrs = get_dataset_list(names, dataset_dir)
        except ValueError as error:  # no dataset_info.json, or a name it does not define
            raise DatasetFileError(
                f"{key}={','.join(names)}: {error} (dataset_dir={dataset_dir}); register the dataset there "
                "(`make data` does) or fix the name"
            ) from None
        for name, attr in zip(names, attrs, strict=True):
            if attr.load_from != "file":
                continue
            path = Path(os.path.join(dataset_dir, attr.dataset_name))
            if path.is_dir():
                continue
            if not path.is_file():
                raise DatasetFileError(
                    f"{key} {name}: its file {path} does not exist (dataset_dir={dataset_dir}); convert the data "
                    "(`make data`) or fix file_name in dataset_info.json"
                )
            problem = _content_problem(path)
            if problem == "holds no samples":
                raise DatasetFileError(f"{key} {name}: {path} holds no samples; {_empty_fix(key)}")
            if problem is not None:
                raise DatasetFileError(
                    f"{key} {name}: {path} {problem}; it must be a JSON list of ShareGPT samples (as `make data` "
                    "writes)"
                )
