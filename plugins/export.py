"""Merge a LoRA adapter into its base model and save one standalone model: LLaMA-Factory's export, our plugin loaded.

    python -m plugins.export configs/merge/tiny_qwen2vl_demo_merge.yaml                 # `make merge`
    python -m plugins.export configs/merge/qwen2vl_7b_lora_merge.yaml export_dir=out/m  # key=value overrides the YAML

Arguments are those of `llamafactory-cli export` (model_name_or_path, adapter_name_or_path, template, export_dir,
export_size, export_device, infer_dtype, ...). The merge config names our template ``qwen2_vl_exact``, which only
exists once ``plugins.register()`` ran, so `llamafactory-cli export` alone would fail on it.
"""

import sys

import plugins

USAGE = "usage: python -m plugins.export CONFIG.yaml [key=value ...]"


def main() -> None:
    if len(sys.argv) < 2 or not sys.argv[1].endswith((".yaml", ".yml")):
        raise SystemExit(USAGE)
    plugins.register()

    from llamafactory.train.tuner import export_model

    export_model()  # reads CONFIG.yaml and key=value overrides from sys.argv, as llamafactory-cli does


if __name__ == "__main__":
    main()
