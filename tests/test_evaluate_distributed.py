"""`torchrun --nproc_per_node 2 evaluate_model.py ...` on CPU (gloo): two shards merged into one set of outputs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.cleaning import is_repetitive
from tests.evaluation_fixtures import REPO_ROOT, write_test_set


@pytest.mark.slow
def test_two_processes_merge_into_one_output_set(tiny_model_dir, sample_dir, tmp_path):
    test_data = write_test_set(tmp_path, sample_dir, 3)  # 3 clips + missing + corrupt: uneven shards
    output_dir = tmp_path / "results"
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [
        str(torchrun),
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        "evaluate_model.py",
        "--base-model",
        str(tiny_model_dir),
        "--test-data",
        str(test_data),
        "--video-dir",
        str(REPO_ROOT),
        "--output-dir",
        str(output_dir),
        "--max-new-tokens",
        "4",
        "--num-workers",
        "0",
        "--allow-errors",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("model: local folder") == 1  # notes before the process group: rank 0 only

    expected_ids = [record.get("id") for record in json.loads(test_data.read_text())]
    records = [json.loads(line) for line in (output_dir / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == expected_ids  # every sample once, in test-set order
    assert not list(output_dir.glob("predictions.rank*.jsonl"))
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["settings"]["processes"] == 2
    merged = [r for r in records if r["status"] == "ok"]
    assert metrics["counts"] == {
        "samples": 5,
        "scored": 3,
        "empty": sum(r["prediction"] == "" for r in merged),  # counted from the merged records, not from themselves
        "repetitive": sum(is_repetitive(r["prediction"]) for r in merged),
        "errors": 2,
    }
    assert (output_dir / "report.md").is_file()
