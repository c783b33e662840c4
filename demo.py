"""The whole pipeline on the embedded default, offline on a CPU: what `make demo` runs.

    python demo.py                                   # sample data -> convert -> preflight + train -> eval -> summary
    python demo.py --clips 24 num_train_epochs=1     # shorter; key=value pairs override the training config
    python demo.py --workspace /tmp/demo --out-dir /tmp/demo/out   # leave this checkout's data/ and saves/ alone

Each stage runs the same command a user would (printed before it starts), so the demo is also the
walkthrough: `python -m data.sample_webvid`, `python -m data.convert_webvid`, `python -m plugins.train`
(which runs the preflight first), `python evaluate_model.py --compare-base`. Then it writes to
``--out-dir`` (outputs/demo): summary.md (base vs fine-tuned metrics, loss), metrics.json (``base`` and
``finetuned`` keyed by metric name), loss.png, and the evaluation's report.html with its frame strips.
"""

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from plugins.run_config import load_run_config

DEFAULT_CONFIG = Path("configs/tiny_qwen2vl_demo.yaml")
DEFAULT_OUT_DIR = Path("outputs/demo")
METRIC_ORDER = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")


def run_stage(title: str, command: list[str]) -> None:
    """Print the stage and its exact command, run it, stop the demo if it fails."""
    print(f"\n=== {title}\n$ {shlex.join(command)}", flush=True)
    started = time.monotonic()
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo stopped: stage '{title}' failed (exit {result.returncode}); its output is above")
    print(f"=== {title}: done in {time.monotonic() - started:.0f} s", flush=True)


def loss_history(train_dir: Path) -> list[tuple[int, float]]:
    """(step, loss) pairs logged by the Trainer."""
    state = json.loads((train_dir / "trainer_state.json").read_text())
    return [(entry["step"], float(entry["loss"])) for entry in state["log_history"] if "loss" in entry]


def plot_loss(history: list[tuple[int, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([s for s, _ in history], [loss for _, loss in history], marker="o", markersize=3)
    ax.set(xlabel="step", ylabel="training loss", title="tiny Qwen2-VL LoRA on sample WebVid")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fmt(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def write_summary(out_dir: Path, train_dir: Path, eval_dir: Path, config: Path) -> dict:
    """summary.md, metrics.json, loss.png and a copy of the evaluation report in ``out_dir``."""
    evaluation = json.loads((eval_dir / "metrics.json").read_text())
    base, finetuned = evaluation["results"]["base"], evaluation["results"]["adapter"]
    history = loss_history(train_dir)
    plot_loss(history, out_dir / "loss.png")

    summary = {
        "base": base["metrics"],
        "finetuned": finetuned["metrics"],
        "counts": {"base": base["counts"], "finetuned": finetuned["counts"]},
        "loss": {"first": history[0][1], "last": history[-1][1], "steps": history[-1][0]},
        "config": str(config),
        "metric_tool": evaluation["metric_tool"],
    }
    (out_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")

    rows = "\n".join(
        f"| {key} | {fmt(base['metrics'][key])} | {fmt(finetuned['metrics'][key])} |" for key in METRIC_ORDER
    )
    n = finetuned["counts"]
    (out_dir / "summary.md").write_text(
        f"# Demo: tiny Qwen2-VL, LoRA on sample WebVid clips\n\n"
        f"Held-out split, {n['samples']} clips, greedy decoding; coco-caption scores x100 "
        f"({evaluation['metric_tool']}).\n\n"
        f"| metric | base | fine-tuned |\n|---|---|---|\n{rows}\n\n"
        f"Fine-tuned answers: {n['empty']} empty, {n['repetitive']} repetitive, {n['errors']} errors.\n\n"
        f"Training loss: {history[0][1]:.3f} at step {history[0][0]} -> {history[-1][1]:.3f} at step "
        f"{history[-1][0]} (loss.png). Config: `{config}`. Per-sample frames and captions: report.html.\n"
    )

    shutil.copy2(eval_dir / "report.html", out_dir / "report.html")
    if (eval_dir / "frames").is_dir():
        shutil.copytree(eval_dir / "frames", out_dir / "frames", dirs_exist_ok=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=120, help="sample clips to generate and split")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="training config")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the summary goes")
    parser.add_argument(
        "--workspace",
        type=Path,
        default=Path("."),
        help="where sample data, splits, dataset_info.json and the adapter go (default: the repo)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value overrides for the training config")
    args = parser.parse_args()
    for override in args.overrides:
        if "=" not in override:
            parser.error(f"training overrides look like key=value, got {override!r}")

    # The workspace holds what the stages write: sample clips, splits, dataset_info.json, the adapter. The repo
    # root (default) is what configs/ expect (dataset_dir: .); elsewhere the config is pointed at it by overrides.
    workspace = args.workspace
    sample_dir, data_dir = workspace / "data" / "sample", workspace / "data" / "webvid"
    overrides = list(args.overrides)
    if workspace.resolve() != Path.cwd().resolve():
        overrides = [
            f"dataset_dir={workspace}",
            f"media_dir={workspace}",
            f"output_dir={workspace / load_run_config(args.config)['output_dir']}",
            *overrides,
        ]
    train_dir = Path(load_run_config(args.config, overrides)["output_dir"])  # as plugins.train will read it
    eval_dir = args.out_dir / "eval"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    python = sys.executable

    run_stage(
        "1/4 sample WebVid data",
        [python, "-m", "data.sample_webvid", "--out-dir", str(sample_dir), "--count", str(args.clips)],
    )
    run_stage("2/4 convert CSV -> ShareGPT splits", [
        python, "-m", "data.convert_webvid", "--csv", str(sample_dir / "webvid.csv"),
        "--video-dir", str(sample_dir / "videos"), "--out-dir", str(data_dir), "--media-dir", str(workspace),
        "--dataset-info", str(workspace / "dataset_info.json"),
        "--val-ratio", "0.1", "--test-ratio", "0.15"])  # fmt: skip
    run_stage("3/4 preflight + LoRA training", [python, "-m", "plugins.train", str(args.config), *overrides])
    if eval_dir.exists():  # a fresh adapter: never resume predictions made by an older one
        shutil.rmtree(eval_dir)
    run_stage("4/4 evaluate base and fine-tuned on the held-out split", [
        python, "evaluate_model.py", "--config", str(args.config), "--compare-base",
        "--adapter-path", str(train_dir), "--test-data", str(data_dir / "webvid_test.json"),
        "--video-dir", str(workspace), "--output-dir", str(eval_dir)])  # fmt: skip

    summary = write_summary(args.out_dir, train_dir, eval_dir, args.config)
    print("\n" + (args.out_dir / "summary.md").read_text())
    print(
        "written: "
        + ", ".join(str(args.out_dir / n) for n in ("summary.md", "metrics.json", "loss.png", "report.html"))
    )
    if summary["loss"]["last"] >= summary["loss"]["first"]:
        print("WARNING: the training loss did not fall", file=sys.stderr)


if __name__ == "__main__":
    main()
