"""What `make frames` shows: no LLaMA-Factory checkpoint chatter about a training run it does not start, and a
progress bar that moves every few clips."""

from frame_store.build import MAX_CLIPS_PER_TASK, split_tasks
from tests.training_fixtures import log_of, run_main, write_train_config


def test_a_build_beside_a_trained_output_dir_resumes_nothing(tiny_model_dir, sample_dir, tmp_path, monkeypatch, capsys):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=1, overwrite_output_dir=False)
    (tmp_path / "saves" / "checkpoint-2").mkdir(parents=True)  # a run trained before with this config
    (tmp_path / "saves" / "adapter_model.safetensors").write_bytes(b"")
    built = run_main("plugins.frames build", str(config), monkeypatch=monkeypatch, capsys=capsys)
    assert built.returncode == 0, log_of(built)[-3000:]
    assert "Resuming training" not in log_of(built) and "1 clips, 1 decoded" in built.stdout


def test_tasks_are_small_enough_that_the_bar_moves_every_few_clips():
    clips = [f"clip_{index}.mp4" for index in range(1000)]
    tasks = split_tasks(clips, workers=16)
    assert [clip for task in tasks for clip in task] == clips
    assert max(map(len, tasks)) <= 1000 // (16 * 8) and len(tasks) >= 16 * 8
    assert max(map(len, split_tasks(clips * 100, workers=2))) == MAX_CLIPS_PER_TASK  # never more per task
    assert split_tasks(clips[:3], workers=16) == [[clip] for clip in clips[:3]]
