"""A build that hits a file-size limit (or a full disk) stops with one sentence naming the file, what happened and
what to do; what it stored stays consistent and a rerun resumes from it."""

import json
import subprocess
import sys

import pytest

from frame_store.shard import read_lines
from tests.frame_store_fixtures import build, exact_plugin
from tests.training_fixtures import REPO_ROOT, sample_clips

LIMITED_BUILD = """
import resource, signal, sys
from tests.frame_store_fixtures import build, exact_plugin
from frame_store.build import StoreBuildError
plugin = exact_plugin()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG instead of killing
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
try:
    build(sys.argv[2], sys.argv[3:], plugin)
except StoreBuildError as error:
    print(f"StoreBuildError: {error}")
"""


@pytest.mark.slow  # a process of its own under a file-size limit: make test runs it, make test-fast does not
def test_a_file_size_limit_names_the_file_and_a_rerun_resumes(sample_dir, tmp_path):
    clips = [str(clip) for clip in sample_clips(sample_dir, 8)]
    measured, _ = build(tmp_path / "measured", clips, exact_plugin())  # entry sizes, to set the limit between them
    lengths = [line["length"] for line in read_lines(next(measured.directory.glob("shard-*.jsonl")))]
    limit = sum(lengths[:4]) + lengths[4] // 2  # the first batch of 4 fits; the fifth entry does not
    root = tmp_path / "frames"
    limited = subprocess.run([sys.executable, "-c", LIMITED_BUILD, str(limit), str(root), *clips], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    (data,) = root.glob("*/shard-*.data")
    assert f"StoreBuildError: cannot write the frame store at {data} (File too large): " in limited.stdout, (
        limited.stdout + limited.stderr[-3000:]
    )
    assert "ulimit -f" in limited.stdout and "a rerun resumes" in limited.stdout
    target, resumed = build(root, clips, exact_plugin())
    assert (resumed.n_clips, resumed.n_decoded, resumed.failures) == (8, 4, {})
    lines = read_lines(next(target.directory.glob("shard-*.jsonl")))
    assert len(lines) == 8 and data.stat().st_size == sum(line["length"] for line in lines)  # nothing torn kept
    assert json.loads((target.directory / "manifest.json").read_text())["entries"] == 8
