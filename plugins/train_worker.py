"""One training process under torchrun, started by `python -m plugins.train` (see there for how to launch).

    torchrun --nproc_per_node 2 -m plugins.train_worker CONFIG.yaml [key=value ...]

Registers our plugin, then runs LLaMA-Factory's training exactly as its own torchrun worker does.
"""

import plugins


def main() -> None:
    plugins.register()

    from llamafactory.train.tuner import run_exp

    run_exp()  # reads CONFIG.yaml and key=value overrides from sys.argv


if __name__ == "__main__":
    main()
