"""Our plugin inside LLaMA-Factory's own processes: `llamafactory-cli train|export|chat|webui|api CONFIG`.

    make setup                                          # once: installs the start-up hook (plugins/autoload.py)
    llamafactory-cli train configs/tiny_qwen2vl_demo.yaml video_maxlen=4

plugins/autoload.py calls ``on_llamafactory_import()`` as soon as such a process has imported LLaMA-Factory's
registries: every command then knows our ``*_exact`` templates and reads video through our exact path. For
``train`` (and each worker of the torchrun job it launches) it also does what ``python -m plugins.train`` does
around training, except the preflight: a resume under other input settings than the checkpoint's is refused
(plugins.resume_guard), the run's run_inputs.json is written (local rank 0) so evaluation follows the adapter, and
a text value that OmegaConf would read as a boolean (``eval_strategy: no``) reaches LLaMA-Factory as the text, as in
``make train`` (plugins.run_config). One line says the preflight did not run and which command runs it.
"""

import os
import sys

import plugins
from plugins.llamafactory_boundary import llamafactory_cli_command

WRITTEN_BY = "llamafactory-cli train"


def preflight_note(train_args: list[str]) -> str:
    """The one line: no preflight here, and the command that trains with one."""
    overrides = f' ARGS="{" ".join(train_args[1:])}"' if train_args[1:] else ""
    return (
        f"llamafactory-cli train runs no preflight (samples over cutoff_len, clips that do not decode); "
        f"`make train CONFIG={train_args[0]}{overrides}` or `python -m plugins.train {' '.join(train_args)}` checks "
        "first"
    )


def record_training(train_args: list[str], local_rank: str | None) -> None:
    """Refuse a resume under other input settings (every rank); write the run record and the notes (local rank 0).
    A config given as flags instead of a YAML gets no record, said in one line."""
    from plugins.model_identity import base_model_identity
    from plugins.resume_guard import ResumeRefused, check_resume
    from plugins.run_config import RunConfigError, llamafactory_argv, load_run_config
    from plugins.run_inputs import RunInputsError, input_settings, write_run_inputs

    first_rank = local_rank in (None, "0")
    if not train_args or not train_args[0].endswith((".yaml", ".yml")):
        if first_rank:
            print("no run_inputs.json written: give llamafactory-cli train a CONFIG.yaml", flush=True)
        return
    try:
        settings = load_run_config(train_args[0], train_args[1:])
        inputs = input_settings(settings)
        resume = check_resume(settings, inputs)
        # LLaMA-Factory's read_args parses sys.argv (config, then overrides) when training starts, after this hook
        as_text = llamafactory_argv(train_args[0], train_args[1:])[len(train_args) :]
    except (RunConfigError, RunInputsError, ResumeRefused) as error:
        raise SystemExit(f"cannot train: {error}") from None
    sys.argv.extend([item for item in as_text if item not in sys.argv])
    if first_rank:
        print(preflight_note(train_args), flush=True)
        model = base_model_identity(str(settings["model_name_or_path"]), inputs["model_revision"])
        write_run_inputs(settings["output_dir"], inputs, source=train_args, written_by=WRITTEN_BY, base_model=model)
        if resume:
            print(resume, flush=True)


def on_llamafactory_import() -> None:
    """Register our templates; in `llamafactory-cli train` and its workers, also check and record the run."""
    plugins.register()
    command, args = llamafactory_cli_command(sys.orig_argv)
    if command == "train":
        record_training(args, os.environ.get("LOCAL_RANK"))
