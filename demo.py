"""The whole pipeline on the embedded default, offline on a CPU: what `make demo` runs.

    python demo.py                                   # sample data -> convert -> train -> eval -> reversed control
    python demo.py --clips 24 num_train_epochs=1     # shorter; key=value pairs override the training config
    python demo.py --config configs/tiny_qwen2_5vl_demo.yaml       # another family's tiny model (same stages)
    python demo.py --workspace /tmp/demo --out-dir /tmp/demo/out   # leave this checkout's data/ and saves/ alone
    python demo.py --threads 2           # every stage on 2 CPU threads (default 1; see below)

Each stage runs the same command a user would (printed before it starts), so the demo is also the
walkthrough: `python -m data.sample_webvid`, `python -m data.convert_webvid`, `python -m plugins.train`
(which runs the preflight first), `python evaluate_model.py --compare-base`, then the control:
`python -m data.reverse_clips` (the held-out clips re-encoded with their frames in reverse order) and
`python evaluate_model.py` of the fine-tuned model on them. Then it writes to ``--out-dir`` (outputs/demo):
summary.md, metrics.json (``base`` and ``finetuned`` keyed by metric name; ``attributes``: held-out accuracy of
colour, shape, direction and background for ``base``, ``finetuned`` and ``finetuned_reversed``, with ``chance``
and ``clips``; ``stage_seconds``), loss.png (training and validation loss) and report.html: the evaluation's
report with the attribute table and the loss curve above the samples, its frame strips beside it (demo_report.py).

Same numbers every time: every stage runs with the same CPU thread count (``--threads``, default 1, whatever
OMP_NUM_THREADS the caller set: a float sum split over another number of threads rounds differently, and 1,600 steps
turn that into other answers) and a fixed PYTHONHASHSEED; the demo configs train with ``full_determinism: true``
(torch's deterministic algorithms, seeded data order). One thread is also the fast choice on a CPU busy with other
jobs: torch's spinning threads slowed training ~10x there.
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from demo_report import write_summary
from plugins.run_config import RunConfigError, load_run_config

DEFAULT_CONFIG = Path("configs/tiny_qwen2vl_demo.yaml")
DEFAULT_OUT_DIR = Path("outputs/demo")
DEFAULT_CLIPS = 300  # -> ~210 train / ~30 val / ~60 held-out clips: enough for per-attribute accuracy to mean something
VAL_RATIO = 0.1
TEST_RATIO = 0.2
DEFAULT_THREADS = 1
THREAD_ENV_KEYS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # torch/OpenMP, MKL, OpenBLAS pools


def stage_env(threads: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment with the thread pools pinned to ``threads`` and hashing fixed, for every stage."""
    return {**environ, **dict.fromkeys(THREAD_ENV_KEYS, str(threads)), "PYTHONHASHSEED": "0"}


def run_stage(title: str, command: list[str], env: Mapping[str, str]) -> float:
    """Print the stage and its exact command, run it, stop the demo if it fails; returns its wall time in s.

    The stage runs in its own session, so Ctrl-C reaches only the demo, which stops the stage and says so once
    (otherwise the stage and the demo would each print a KeyboardInterrupt traceback)."""
    print(f"\n=== {title}\n$ {shlex.join(command)}", flush=True)
    started = time.monotonic()
    stage = subprocess.Popen(command, start_new_session=True, env=env)
    try:
        returncode = stage.wait()
    except KeyboardInterrupt:
        os.killpg(stage.pid, signal.SIGTERM)  # the stage and its processes (decode pools, torchrun's workers)
        stage.wait()
        raise
    if returncode != 0:
        raise SystemExit(f"demo stopped: stage '{title}' failed (exit {returncode}); its output is above")
    seconds = time.monotonic() - started
    print(f"=== {title}: done in {seconds:.0f} s", flush=True)
    return seconds


def clip_count(text: str) -> int:
    """argparse type of --clips: a whole number of at least 1."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a number of clips of at least 1, got {text!r}")
    return count


def split_overrides(data_dir: Path, clips: int, config_and_overrides: dict) -> list[str]:
    """Overrides the converted splits call for: none when every split has clips; without validation when the val
    split is empty (a small --clips). Stops the demo in one sentence when the held-out split is empty."""
    sizes = {split: len(json.loads((data_dir / f"webvid_{split}.json").read_text())) for split in ("val", "test")}
    if sizes["test"] == 0:
        raise SystemExit(
            f"demo stopped: the held-out split {data_dir / 'webvid_test.json'} is empty ({clips} clips); pass more "
            "--clips (e.g. --clips 30) or a larger --test-ratio"
        )
    if sizes["val"] == 0 and config_and_overrides.get("eval_dataset"):
        print(
            f"note: the val split {data_dir / 'webvid_val.json'} is empty ({clips} clips): training without "
            "validation (eval_dataset= eval_strategy=no); more --clips give the validation loss",
            flush=True,
        )
        return ["eval_dataset=", "eval_strategy=no"]
    return []


def main() -> None:
    """`python demo.py [--clips N] [key=value ...]`; Ctrl-C stops the running stage and exits 130."""
    try:
        run_demo()
    except KeyboardInterrupt:
        print("\ndemo interrupted (Ctrl-C): the running stage was stopped", file=sys.stderr)
        raise SystemExit(130) from None


def run_demo() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=clip_count, default=DEFAULT_CLIPS, help="sample clips to generate and split")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="training config (any model family)")
    parser.add_argument("--val-ratio", type=float, default=VAL_RATIO, help="share of clips in the val split")
    parser.add_argument("--test-ratio", type=float, default=TEST_RATIO, help="share of clips held out for testing")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the summary goes")
    parser.add_argument(
        "--workspace",
        type=Path,
        default=Path("."),
        help="where sample data, splits, dataset_info.json and the adapter go (default: the repo)",
    )
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="CPU threads of every stage (same value, same numbers)"
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides for the training config")
    args = parser.parse_args()
    for override in args.overrides:
        if "=" not in override:
            parser.error(f"training overrides look like key=value, got {override!r}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")

    # The workspace holds what the stages write: sample clips, splits, dataset_info.json, the adapter. The repo
    # root (default) is what configs/ expect (dataset_dir: .); elsewhere the config is pointed at it by overrides.
    workspace = args.workspace
    sample_dir, data_dir = workspace / "data" / "sample", workspace / "data" / "webvid"
    overrides = list(args.overrides)
    try:
        if workspace.resolve() != Path.cwd().resolve():
            overrides = [
                f"dataset_dir={workspace}",
                f"media_dir={workspace}",
                f"output_dir={workspace / load_run_config(args.config)['output_dir']}",
                *overrides,
            ]
        settings = load_run_config(args.config, overrides)  # as plugins.train will read it
    except RunConfigError as error:
        parser.error(str(error))
    train_dir = Path(settings["output_dir"])
    eval_dir, reversed_eval_dir = args.out_dir / "eval", args.out_dir / "eval_reversed"
    test_data, reversed_dir = data_dir / "webvid_test.json", data_dir / "reversed"  # data/webvid/: git-ignored
    args.out_dir.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    seconds = {}
    env = stage_env(args.threads, os.environ)
    print(f"every stage runs on {args.threads} CPU thread(s) (--threads)", flush=True)

    seconds["sample data"] = run_stage(
        "1/6 sample WebVid data",
        [python, "-m", "data.sample_webvid", "--out-dir", str(sample_dir), "--count", str(args.clips)],
        env,
    )
    seconds["convert"] = run_stage("2/6 convert CSV -> ShareGPT splits", [
        python, "-m", "data.convert_webvid", "--csv", str(sample_dir / "webvid.csv"),
        "--video-dir", str(sample_dir / "videos"), "--out-dir", str(data_dir), "--media-dir", str(workspace),
        "--dataset-info", str(workspace / "dataset_info.json"),
        "--val-ratio", str(args.val_ratio), "--test-ratio", str(args.test_ratio)], env)  # fmt: skip
    overrides += split_overrides(data_dir, args.clips, settings)
    seconds["preflight + train"] = run_stage(
        "3/6 preflight + LoRA training", [python, "-m", "plugins.train", str(args.config), *overrides], env
    )
    for folder in (eval_dir, reversed_eval_dir):  # a fresh adapter: never resume predictions made by an older one
        if folder.exists():
            shutil.rmtree(folder)
    seconds["evaluate"] = run_stage("4/6 evaluate base and fine-tuned on the held-out split", [
        python, "evaluate_model.py", "--config", str(args.config), "--compare-base",
        "--adapter-path", str(train_dir), "--test-data", str(test_data),
        "--video-dir", str(workspace), "--output-dir", str(eval_dir)], env)  # fmt: skip
    seconds["reverse clips"] = run_stage("5/6 control: the held-out clips with their frames reversed in time", [
        python, "-m", "data.reverse_clips", "--test-data", str(test_data), "--media-dir", str(workspace),
        "--out-dir", str(reversed_dir)], env)  # fmt: skip
    seconds["evaluate reversed"] = run_stage("6/6 evaluate fine-tuned on the reversed clips", [
        python, "evaluate_model.py", "--config", str(args.config),
        "--adapter-path", str(train_dir), "--test-data", str(reversed_dir / "webvid_test_reversed.json"),
        "--video-dir", str(workspace), "--output-dir", str(reversed_eval_dir)], env)  # fmt: skip

    summary = write_summary(args.out_dir, train_dir, eval_dir, reversed_eval_dir, args.config, seconds)
    print("\n" + (args.out_dir / "summary.md").read_text())
    print(
        "written: "
        + ", ".join(str(args.out_dir / n) for n in ("summary.md", "metrics.json", "loss.png", "report.html"))
    )
    if summary["loss"]["last"] >= summary["loss"]["first"]:
        print("WARNING: the training loss did not fall", file=sys.stderr)


if __name__ == "__main__":
    main()
