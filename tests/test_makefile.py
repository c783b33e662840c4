"""The Makefile's sandbox: what `make test`, `make demo` and the benchmarks need exists wherever CACHE_DIR points."""

import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_TARGETS = ("demo", "test", "test-fast", "bench", "tiny-model", "sample-data")


@pytest.mark.parametrize("target", SANDBOX_TARGETS)
def test_a_moved_or_deleted_cache_dir_gets_its_tmp_folder_before_the_target_runs(target, tmp_path):
    """TMPDIR is CACHE_DIR/tmp for these targets; playwright's mkdtemp (the report-page tests) fails if it is absent."""
    cache_dir = tmp_path / "moved-cache"
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"CACHE_DIR={cache_dir}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert f"mkdir -p {cache_dir}/tmp" in dry_run, "\n".join(dry_run)
