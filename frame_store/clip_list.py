"""Every clip a config's run reads, so one `make frames` stores them all.

    clips, note = run_clips(config)   # {clip: "dataset[index]"}: dataset + eval_dataset (as training resolves them)
                                      # + the held-out test split

`make eval` without --test-data scores the held-out split of the trained dataset (``X_train`` -> ``X_test`` in
dataset_dir's dataset_info.json, clip paths relative to media_dir: evaluation.held_out), so its clips are stored
too; a run with no such split stores its training and eval datasets only (``notes`` says why).
"""

from pathlib import Path


def held_out_clips(config: dict) -> tuple[dict[str, str], str]:
    """({clip path of the held-out test split as evaluation resolves it: "file[index]" of its first sample}, a line
    saying which split or why none)."""
    from evaluation.held_out import held_out_test_set
    from evaluation.samples import InvalidTestSetError, load_test_set

    dataset_dir = config.get("dataset_dir")
    try:
        test_data = held_out_test_set(config.get("dataset"), dataset_dir)
        samples = load_test_set(test_data, Path(config.get("media_dir") or dataset_dir or "."))
    except InvalidTestSetError:  # evaluation says why when it needs one; here it only means nothing more to store
        return {}, (f"no held-out X_test split beside {config.get('dataset')} in {dataset_dir} (make eval would "
                    "ask for --test-data): storing the training and eval datasets")  # fmt: skip
    clips: dict[str, str] = {}
    for index, sample in enumerate(samples):
        clips.setdefault(sample.video_path, f"{Path(test_data).name}[{index}]")
    return clips, f"held-out test split {test_data}: {len(samples)} clips"


def run_clips(config: dict) -> tuple[dict[str, str], str]:
    """({every clip of the config's datasets and of its held-out test split: the first sample naming it}, a line
    about the split)."""
    from frame_store.run_target import config_clips

    test_clips, note = held_out_clips(config)
    # Listing clips resumes nothing: without this LLaMA-Factory looks in output_dir for a checkpoint (and logs
    # "Resuming training from ...", or refuses an output_dir holding a finished adapter).
    listing = {**config, "overwrite_output_dir": True}
    return {**test_clips, **config_clips(listing)}, note
