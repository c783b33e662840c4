"""Merge a LoRA adapter into its base model and save one standalone model: LLaMA-Factory's export, our plugin loaded.

    python -m plugins.export configs/merge/tiny_qwen2vl_demo_merge.yaml                 # `make merge`
    python -m plugins.export configs/merge/qwen2vl_7b_lora_merge.yaml export_dir=out/m  # key=value overrides the YAML

Arguments are those of `llamafactory-cli export` (model_name_or_path, adapter_name_or_path, template, export_dir,
export_size, export_device, infer_dtype, ...). The merge config names our template ``qwen2_vl_exact``, which only
exists once ``plugins.register()`` ran, so `llamafactory-cli export` alone would fail on it. The adapter's
run_inputs.json (the input settings it was trained with, see plugins.run_inputs) is copied into export_dir, so
evaluating the merged model (``evaluate_model.py --base-model EXPORT_DIR``) uses them too. The console shows the
model, where the merged model went and the log file; the libraries' chatter goes to export_dir/merge.log.
"""

import shutil
import sys
from pathlib import Path

import plugins
from plugins.model_source import ModelSourceError, describe_model_source
from plugins.run_config import RunConfigError, load_run_config
from plugins.run_inputs import RUN_INPUTS_FILE
from plugins.run_log import log_libraries_to

MERGE_LOG_NAME = "merge.log"  # in export_dir, as train.log is in output_dir
USAGE = "usage: python -m plugins.export CONFIG.yaml [key=value ...]"


def check_export(config: str, overrides: list[str]) -> dict:
    """Refuse, in one sentence each, a model that cannot be found and an export_dir that would overwrite a model."""
    settings = load_run_config(config, overrides)
    print(f"model: {describe_model_source(str(settings.get('model_name_or_path', '')))}", flush=True)
    export_dir = settings.get("export_dir")
    if not export_dir:
        raise RunConfigError(f"{config}: export_dir is not set; add export_dir=DIR")
    for key in ("model_name_or_path", "adapter_name_or_path"):
        source = settings.get(key)
        if source and Path(source).exists() and Path(export_dir).resolve() == Path(source).resolve():
            raise RunConfigError(
                f"export_dir={export_dir} is the {key} folder: the merge would overwrite it; pick a new folder"
            )
    return settings


def copy_run_inputs(settings: dict) -> Path | None:
    """Copy the adapter's run_inputs.json (what it was trained with) into export_dir; None when it has none.

    With several adapters (``a,b``) the last one's record is copied: it was trained on top of the others."""
    adapters = [item.strip() for item in str(settings.get("adapter_name_or_path") or "").split(",") if item.strip()]
    record = Path(adapters[-1]) / RUN_INPUTS_FILE if adapters else None
    if record is None or not record.is_file():
        return None
    target = Path(settings["export_dir"]) / RUN_INPUTS_FILE
    shutil.copy2(record, target)
    return target


def main() -> None:
    if len(sys.argv) < 2 or not sys.argv[1].endswith((".yaml", ".yml")):
        raise SystemExit(USAGE)
    try:
        settings = check_export(sys.argv[1], sys.argv[2:])
    except (RunConfigError, ModelSourceError) as error:
        raise SystemExit(f"cannot export: {error}") from None
    log_path = Path(settings["export_dir"]) / MERGE_LOG_NAME
    if log_libraries_to(log_path):  # LLaMA-Factory's and transformers' INFO lines (hundreds) go to the file
        print(f"full log: {log_path}", flush=True)
    plugins.register()

    from llamafactory.train.tuner import export_model

    export_model()  # reads CONFIG.yaml and key=value overrides from sys.argv, as llamafactory-cli does
    copied = copy_run_inputs(settings)
    print(f"merged model written to {Path(settings['export_dir']).resolve()}", flush=True)
    if copied:
        print(f"with the adapter's training input settings: {copied}", flush=True)


if __name__ == "__main__":
    main()
