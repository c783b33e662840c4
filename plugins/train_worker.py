"""One training process under torchrun, started by `python -m plugins.train` (see there for how to launch).

    torchrun --nproc_per_node 2 -m plugins.train_worker CONFIG.yaml [key=value ...]

Registers our plugin, points it at the config's frame source (plugins.frame_source: each rank chooses it from the
same config), then runs LLaMA-Factory's training exactly as its own torchrun worker does, with this rank's
heartbeat and watchdog (HANG_TIMEOUT_S, see plugins.watchdog). Exits when its parent, torchrun's agent (the
launcher, after its exec), is gone, even by kill -9: torchrun stops its workers on a signal it can catch, but nothing
else would stop this one from training on, unattended.
"""

import sys

import plugins
from common.parent_watch import exit_when_parent_dies
from plugins.frame_source import use_frame_source
from plugins.registry import template_plugin
from plugins.run_config import load_run_config
from plugins.run_log import log_libraries_to
from plugins.train import hang_callbacks, run_training, train_log_path
from plugins.watchdog import hang_timeout_from_env


def main() -> None:
    exit_when_parent_dies()
    hang_timeout_s = hang_timeout_from_env()
    settings = load_run_config(sys.argv[1], sys.argv[2:])
    log_libraries_to(train_log_path(settings))
    plugins.register()
    use_frame_source(template_plugin(settings.get("template")), settings)
    run_training(hang_callbacks(settings, hang_timeout_s))


if __name__ == "__main__":
    main()
