"""Every clip a config's run reads, so one `make frames` stores them all.

    clips, note = run_clips(dataset_clips, config)   # + the held-out test split; {clip: the first sample naming it}

``dataset_clips`` is the config's dataset + eval_dataset as training resolves them (plugins.frames.config_clips:
{clip: "dataset[index]"}). `make eval` without --test-data scores the held-out split of the trained dataset
(``X_train`` -> ``X_test`` in dataset_dir's dataset_info.json, clip paths relative to media_dir: data.held_out), so
its clips are stored too; a run with no such split stores its training and eval datasets only (``note`` says why).
"""

from pathlib import Path

from data.eval_samples import InvalidTestSetError, load_test_set
from data.held_out import held_out_test_set


def held_out_clips(config: dict) -> tuple[dict[str, str], str]:
    """({clip path of the held-out test split as evaluation resolves it: "file.json[index]"}, a line saying which
    split or why none)."""
    dataset_dir = config.get("dataset_dir")
    try:
        test_data = held_out_test_set(config.get("dataset"), dataset_dir)
        samples = load_test_set(test_data, Path(config.get("media_dir") or dataset_dir or "."))
    except InvalidTestSetError:  # evaluation says why when it needs one; here it only means nothing more to store
        return {}, (f"no held-out X_test split beside {config.get('dataset')} in {dataset_dir} (make eval would "
                    "ask for --test-data): storing the training and eval datasets")  # fmt: skip
    clips: dict[str, str] = {}
    for index, sample in enumerate(samples):
        clips.setdefault(str(sample.video_path), f"{Path(test_data).name}[{index}]")
    return clips, f"held-out test split {test_data}: {len(samples)} clips"


def run_clips(dataset_clips: dict[str, str], config: dict) -> tuple[dict[str, str], str]:
    """(every clip of ``dataset_clips`` and of the config's held-out test split, each once with the first sample
    naming it; a line about the split)."""
    test_clips, note = held_out_clips(config)
    return {**test_clips, **dataset_clips}, note
