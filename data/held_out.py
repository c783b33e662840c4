"""The default test set: the held-out split of the dataset the run trained on, found the way LLaMA-Factory finds data.

    test_data = held_out_test_set(["webvid_train"], "/data/webvid/sharegpt")   # -> .../webvid_test.json

The converter (data.convert_webvid) registers its splits as ``X_train``, ``X_val`` and ``X_test`` in
``dataset_dir/dataset_info.json``; a run that trained on ``X_train`` is scored on ``X_test``, whose file is the
entry's ``file_name`` relative to ``dataset_dir`` (as LLaMA-Factory resolves it). Anything else is an error that
says to pass --test-data: a silent fallback once scored a real-data adapter on the synthetic test set.
"""

import json
from collections.abc import Sequence
from pathlib import Path

from data.eval_samples import InvalidTestSetError

TRAIN_SUFFIX, TEST_SUFFIX = "_train", "_test"
DATASET_INFO = "dataset_info.json"


def _registry(dataset_dir: Path) -> dict:
    path = dataset_dir / DATASET_INFO
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidTestSetError(f"no {path} to find the held-out split in: pass --test-data PATH") from None
    except (ValueError, OSError) as error:
        raise InvalidTestSetError(f"{path} cannot be read ({error}): pass --test-data PATH") from None
    if not isinstance(info, dict):
        raise InvalidTestSetError(f"{path} is not a dataset registry (a JSON object): pass --test-data PATH")
    return info


def held_out_test_set(datasets: Sequence[str] | str | None, dataset_dir: str | Path | None) -> Path:
    """The file of the ``X_test`` split registered beside the trained ``X_train`` in ``dataset_dir``."""
    if isinstance(datasets, str):
        datasets = [name.strip() for name in datasets.split(",")]
    if not datasets or dataset_dir is None:
        raise InvalidTestSetError(
            "no training run to take the held-out split from (no --config, and no adapter "
            "with its run_inputs.json): pass --test-data PATH"
        )
    trained = [name for name in datasets if name.endswith(TRAIN_SUFFIX)]
    if not trained:
        raise InvalidTestSetError(
            f"the run trained on {', '.join(datasets)}: no X{TRAIN_SUFFIX} dataset whose "
            f"X{TEST_SUFFIX} split to evaluate on; pass --test-data PATH"
        )
    dataset_dir = Path(dataset_dir)
    registry = _registry(dataset_dir)
    found, problems = {}, []
    for name in trained:
        test_name = name[: -len(TRAIN_SUFFIX)] + TEST_SUFFIX
        entry = registry.get(test_name)
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
            problems.append(f"{test_name} is not registered with a file_name in {dataset_dir / DATASET_INFO}")
            continue
        path = dataset_dir / entry["file_name"]
        if not path.is_file():
            problems.append(f"{test_name} is registered as {path}, which does not exist")
            continue
        found[test_name] = path
    if len(found) > 1:
        raise InvalidTestSetError(
            f"the run trained on several datasets with a held-out split ({', '.join(found)}): "
            "pass --test-data PATH for the one to evaluate on"
        )
    if not found:
        raise InvalidTestSetError(
            f"no held-out split of {', '.join(trained)}: {'; '.join(problems)}. Pass --test-data PATH"
        )
    return next(iter(found.values()))
