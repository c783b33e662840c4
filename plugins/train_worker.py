"""One training process under torchrun, started by `python -m plugins.train` (see there for how to launch).

    torchrun --nproc_per_node 2 -m plugins.train_worker CONFIG.yaml [key=value ...]

Registers our plugin, points it at the config's frame source (plugins.frame_source: each rank chooses it from the
same config), then runs LLaMA-Factory's training exactly as its own torchrun worker does.
"""

import sys

import plugins
from plugins.frame_source import use_frame_source
from plugins.registry import template_plugin
from plugins.run_config import load_run_config
from plugins.run_log import log_libraries_to
from plugins.train import run_training, train_log_path


def main() -> None:
    config = load_run_config(sys.argv[1], sys.argv[2:])
    log_libraries_to(train_log_path(config))
    plugins.register()
    use_frame_source(template_plugin(config.get("template")), config)
    run_training()


if __name__ == "__main__":
    main()
