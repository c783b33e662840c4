"""The demo's summary: what demo.py writes once its stages have run (outputs/demo by default).

    from demo_report import write_summary
    write_summary(out_dir, train_dir, eval_dir, reversed_eval_dir, config, stage_seconds)

Writes ``out_dir``/metrics.json (``base`` / ``finetuned`` coco-caption metrics, ``attributes``: per-attribute
held-out accuracy of base, fine-tuned, and fine-tuned on the same clips reversed in time, with chance and the
number of clips), summary.md (the same as tables), loss.png (training and validation loss) and report.html: the
evaluation's report with the attribute table (reversed control included) and the loss curve above the samples, its
frames beside it. Attribute accuracy is data.sample_attributes'.
"""

import html
import json
import shutil
from pathlib import Path

from data.publish import write_text_atomic
from data.sample_attributes import ATTRIBUTES, attribute_accuracy, chance
from evaluation.report import write_report

ATTRIBUTE_COLUMNS = ("attribute", "chance", "base", "fine-tuned", "fine-tuned, frames reversed")
METRIC_ORDER = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")
# predictions.jsonl's model names -> the demo's; the reversed run evaluates the adapter only
ATTRIBUTE_RUNS = (
    ("base", "eval", "base"),
    ("finetuned", "eval", "adapter"),
    ("finetuned_reversed", "reversed", "adapter"),
)


def loss_history(train_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """(step, loss) pairs logged by the Trainer: ``train`` (loss) and ``val`` (eval_loss on the val split)."""
    state = json.loads((Path(train_dir) / "trainer_state.json").read_text())
    history = state["log_history"]
    return {
        "train": [(entry["step"], float(entry["loss"])) for entry in history if "loss" in entry],
        "val": [(entry["step"], float(entry["eval_loss"])) for entry in history if "eval_loss" in entry],
    }


def plot_loss(history: dict[str, list[tuple[int, float]]], path: Path) -> None:
    """loss.png: training loss and, when the run evaluated on its val split, validation loss per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, label in (("train", "training loss"), ("val", "validation loss (val split)")):
        if history[name]:
            steps, losses = zip(*history[name], strict=True)
            ax.plot(steps, losses, marker="o", markersize=3, label=label)
    ax.set(xlabel="step", ylabel="loss", title="tiny Qwen-VL LoRA on sample WebVid clips")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def predictions_of(eval_dir: Path, model: str) -> list[tuple[str, str]]:
    """(prediction, reference) of every sample ``model`` answered in ``eval_dir``/predictions.jsonl; a sample that
    errored counts as an answer naming nothing (wrong for every attribute)."""
    pairs = []
    with open(Path(eval_dir) / "predictions.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["model"] == model:
                pairs.append((row["prediction"] or "", row["reference"]))
    return pairs


def attribute_table(eval_dirs: dict[str, Path]) -> dict:
    """``attributes`` of metrics.json from the evaluation folders ``{"eval": ..., "reversed": ...}``."""
    table, clips = {}, {}
    for name, folder, model in ATTRIBUTE_RUNS:
        pairs = predictions_of(eval_dirs[folder], model)
        table[name] = attribute_accuracy(pairs)
        clips[name] = len(pairs)
    if len(set(clips.values())) != 1:
        raise ValueError(f"the attribute runs scored different numbers of clips: {clips}")
    table["chance"] = {name: chance(name) for name in ATTRIBUTES}
    table["clips"] = clips["finetuned"]
    return table


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def attributes_markdown(attributes: dict) -> str:
    """The attribute table: one row per attribute, chance and each run's accuracy in %."""
    rows = "\n".join(
        f"| {name} | {100 * attributes['chance'][name]:.0f} | {100 * attributes['base'][name]:.0f} "
        f"| {100 * attributes['finetuned'][name]:.0f} | {100 * attributes['finetuned_reversed'][name]:.0f} |"
        for name in ATTRIBUTES
    )
    return "| attribute | chance | base | fine-tuned | fine-tuned, frames reversed |\n|---|---|---|---|---|\n" + rows


def verdict(attributes: dict) -> str:
    """One sentence: which attributes the fine-tuned model reads at >= 2x chance, and what the control shows."""
    learned = [n for n in ATTRIBUTES if attributes["finetuned"][n] >= 2 * attributes["chance"][n]]
    missed = [n for n in ATTRIBUTES if n not in learned]
    text = f"At least twice chance: {', '.join(learned) or 'none'}; below: {', '.join(missed) or 'none'}."
    if "direction" not in learned:
        return text + " Direction is not read, so the reversed-frames control cannot show that frame order is used."
    drop = attributes["finetuned"]["direction"] - attributes["finetuned_reversed"]["direction"]
    return text + f" Reversing the frames changes direction accuracy by {-100 * drop:+.0f} points."


def write_summary(
    out_dir: Path,
    train_dir: Path,
    eval_dir: Path,
    reversed_dir: Path,
    config: Path,
    stage_seconds: dict[str, float],
) -> dict:
    """summary.md, metrics.json, loss.png and a copy of the evaluation report in ``out_dir``; returns metrics."""
    evaluation = json.loads((Path(eval_dir) / "metrics.json").read_text())
    base, finetuned = evaluation["results"]["base"], evaluation["results"]["adapter"]
    history = loss_history(train_dir)
    plot_loss(history, out_dir / "loss.png")
    attributes = attribute_table({"eval": eval_dir, "reversed": reversed_dir})
    train, val = history["train"], history["val"]

    summary = {
        "base": base["metrics"],
        "finetuned": finetuned["metrics"],
        "attributes": attributes,
        "counts": {"base": base["counts"], "finetuned": finetuned["counts"]},
        "loss": {"first": train[0][1], "last": train[-1][1], "steps": train[-1][0]},
        "val_loss": {"first": val[0][1], "last": val[-1][1]} if val else None,
        "stage_seconds": stage_seconds,
        "config": str(config),
        "metric_tool": evaluation["metric_tool"],
    }
    write_text_atomic(out_dir / "metrics.json", json.dumps(summary, indent=2) + "\n")

    rows = "\n".join(
        f"| {key} | {_pct(base['metrics'][key])} | {_pct(finetuned['metrics'][key])} |" for key in METRIC_ORDER
    )
    n = finetuned["counts"]
    val_text = f"; validation loss {val[0][1]:.3f} -> {val[-1][1]:.3f}" if val else ""
    write_text_atomic(
        out_dir / "summary.md",
        f"# Demo: tiny Qwen-VL, LoRA on sample WebVid clips\n\n"
        f"## Does it read the video?\n\n"
        f"Held-out split, {attributes['clips']} clips, greedy decoding. Each answer's colour, shape, direction and "
        f"background are read from its words (data/sample_attributes.py; naming none or several values is "
        f"wrong) and compared with the reference's; accuracy in %, chance = 1 / the number of values the generator "
        f"uses. The last column is the fine-tuned model on the same clips with their frames reversed in time "
        f"(references unchanged): direction should fall, colour and shape should hold.\n\n"
        f"{attributes_markdown(attributes)}\n\n{verdict(attributes)}\n\n"
        f"## Caption metrics\n\n"
        f"coco-caption scores x100 ({evaluation['metric_tool']}).\n\n"
        f"| metric | base | fine-tuned |\n|---|---|---|\n{rows}\n\n"
        f"Fine-tuned answers: {n['empty']} empty, {n['repetitive']} repetitive, {n['errors']} errors.\n\n"
        f"Training loss {train[0][1]:.3f} at step {train[0][0]} -> {train[-1][1]:.3f} at step {train[-1][0]}"
        f"{val_text} (loss.png). Config: `{config}`. Per-sample frames and captions: report.html.\n\n"
        f"Stage times: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in stage_seconds.items()) + ".\n",
    )

    if (Path(eval_dir) / "frames").is_dir():
        shutil.copytree(Path(eval_dir) / "frames", out_dir / "frames", dirs_exist_ok=True)
    write_demo_page(out_dir, eval_dir, evaluation, attributes)
    return summary


def demo_sections_html(attributes: dict, loss_image: str) -> str:
    """The demo's findings for report.html, above its samples: the attribute table with the reversed-frames
    control, the verdict, and the loss curve (``loss_image``, a file beside the page)."""
    esc = html.escape
    head = "".join(f"<th>{esc(label)}</th>" for label in ATTRIBUTE_COLUMNS)
    body = "".join(
        f"<tr><td>{esc(name)}</td><td>{100 * attributes['chance'][name]:.0f}</td>"
        + "".join(f"<td>{100 * attributes[run][name]:.0f}</td>" for run in ("base", "finetuned", "finetuned_reversed"))
        + "</tr>"
        for name in ATTRIBUTES
    )
    return (
        "<section class='demo'><h2>Does it read the video?</h2>"
        f"<p>Held-out split, {attributes['clips']} clips: attribute accuracy in %, read from each answer's words "
        "(data/sample_attributes.py); the last column is the fine-tuned model on the same clips with their frames "
        "reversed in time (references unchanged), a control for frame order.</p>"
        f"<table class='metrics attributes'><tr>{head}</tr>{body}</table><p>{esc(verdict(attributes))}</p>"
        f"<h2>Loss</h2><img class='loss' src='{esc(loss_image)}' alt='training and validation loss per step'>"
        "</section>"
    )


def write_demo_page(out_dir: Path, eval_dir: Path, evaluation: dict, attributes: dict) -> None:
    """``out_dir``/report.html (and report.md): the evaluation's report with the demo's findings above the
    samples; frames/ and loss.png lie beside it, so the folder opens from disk on its own."""
    with open(Path(eval_dir) / "predictions.jsonl", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    write_report(out_dir, records, evaluation, demo_sections_html(attributes, "loss.png"), run_dir=Path(eval_dir))
