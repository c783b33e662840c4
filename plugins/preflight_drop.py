"""The preflight's dataset files: the ``id`` of each record, and ``--drop-offending DIR`` (the rest written there)."""

import dataclasses
import json
from pathlib import Path

from plugins.preflight_report import PreflightError, PreflightReport


def _raw_path(attr, data_args) -> Path:
    if attr.load_from != "file":
        raise PreflightError(
            f"--drop-offending needs file datasets; {attr.dataset_name} is loaded from {attr.load_from}"
        )
    return Path(data_args.dataset_dir) / attr.dataset_name


def _read_records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def raw_ids(attr, data_args) -> list[str]:
    """The ``id`` of each record (the converter writes the videoid there), when the file has them."""
    if attr.load_from != "file" or attr.num_samples is not None:
        return []
    path = _raw_path(attr, data_args)
    if not path.is_file() or path.suffix not in (".json", ".jsonl"):
        return []
    return [str(record.get("id", index)) for index, record in enumerate(_read_records(path))]


def write_without_offenders(report: PreflightReport, attrs: dict, data_args, out_dir: Path) -> None:
    """DIR/<dataset files> without the offenders, DIR/dataset_info.json (same names), DIR/dropped.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info_path = Path(data_args.dataset_dir) / "dataset_info.json"
    entries = json.loads(info_path.read_text(encoding="utf-8"))
    dropped_by_dataset: dict[str, set[int]] = {}
    for offender in report.offenders:
        dropped_by_dataset.setdefault(offender.dataset, set()).add(offender.index)
    new_info = {}
    for name, attr in attrs.items():
        if attr.num_samples is not None:
            raise PreflightError(f"--drop-offending cannot map samples of {name}: its num_samples reorders them")
        source = _raw_path(attr, data_args)
        records = _read_records(source)
        dropped = dropped_by_dataset.get(name, set())
        kept = [record for index, record in enumerate(records) if index not in dropped]
        file_name = f"{name}{source.suffix}"
        with open(out_dir / file_name, "w", encoding="utf-8") as f:
            if source.suffix == ".jsonl":
                f.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in kept)
            else:
                json.dump(kept, f, ensure_ascii=False, indent=0)
        new_info[name] = {**entries[name], "file_name": file_name}
    (out_dir / "dataset_info.json").write_text(json.dumps(new_info, indent=2) + "\n", encoding="utf-8")
    dropped_list = [dataclasses.asdict(offender) for offender in report.offenders]
    (out_dir / "dropped.json").write_text(json.dumps(dropped_list, indent=2, ensure_ascii=False) + "\n")
