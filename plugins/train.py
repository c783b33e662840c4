"""Train with LLaMA-Factory: our plugin loaded in every process, the preflight run first.

    python -m plugins.train configs/tiny_qwen2vl_demo.yaml                      # one process
    python -m plugins.train configs/tiny_qwen2vl_demo.yaml num_train_epochs=1   # key=value overrides the YAML
    FORCE_TORCHRUN=1 NPROC_PER_NODE=8 python -m plugins.train CONFIG.yaml       # 8 processes (torchrun)
    FORCE_TORCHRUN=1 NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 NPROC_PER_NODE=8 \\
        python -m plugins.train CONFIG.yaml                                     # node 0 of 2

Arguments and environment are those of `llamafactory-cli train`. Where LLaMA-Factory would re-launch itself
under torchrun (FORCE_TORCHRUN=1, or more than one GPU), its children would not have our plugin, so this
launches torchrun on plugins.train_worker instead, which registers the plugin in each process.
NPROC_PER_NODE defaults to the number of accelerators, or 1 on a machine without any. Elastic jobs (RDZV_ID,
MIN_NNODES/MAX_NNODES, MAX_RESTARTS) and OPTIM_TORCH work as with llamafactory-cli. This process becomes torchrun
(exec), so killing it stops the workers too.

Every rank writes output_dir/heartbeat/rank-K.json (its DataLoader workers rank-K-worker-J.json); a rank without
progress for HANG_TIMEOUT_S seconds (default 600, 0 = off) dumps its stacks beside them, and under torchrun PyTorch's
NCCL flight recorder dumps there on a collective timeout: `python -m plugins.diagnose OUTPUT_DIR` (docs/hangs.md).
"""

import os
import sys
from pathlib import Path

import plugins
from plugins.frame_source import use_frame_source
from plugins.registry import template_plugin
from plugins.run_log import log_libraries_to

USAGE = (
    "usage: python -m plugins.train CONFIG.yaml [key=value ...] [--skip-decode-check] [--decode-workers N] "
    "[--workers N]"
)
TRAIN_LOG_NAME = "train.log"


def run_preflight(train_args: list[str], preflight_options: tuple[str, ...] = ()) -> None:
    """The preflight (plugins.preflight.check) on the same settings, in this process; stop training if it fails.

    ``preflight_options`` (--skip-decode-check, --decode-workers N, --workers N) are the preflight's alone."""
    from plugins import preflight
    from plugins.preflight_report import PreflightError
    from plugins.run_config import load_run_config

    try:
        options = preflight.parse_options(list(preflight_options))
        preflight.check(load_run_config(train_args[0], train_args[1:]), options)
    except PreflightError as error:
        raise SystemExit(f"preflight failed: {error}") from None


def wants_torchrun() -> bool:
    """LLaMA-Factory's own rule for launching training under torchrun."""
    from llamafactory.extras.misc import get_device_count, is_env_enabled, use_kt, use_ray

    return (
        is_env_enabled("FORCE_TORCHRUN")
        or is_env_enabled("USE_MCA")
        or (get_device_count() > 1 and not use_ray() and not use_kt())
    )


def torchrun_command(train_args: list[str]) -> list[str]:
    """torchrun on plugins.train_worker, from the environment LLaMA-Factory 0.9.5's launcher reads: NNODES,
    NODE_RANK, NPROC_PER_NODE, MASTER_ADDR, MASTER_PORT, and for elastic jobs RDZV_ID, MIN_NNODES, MAX_NNODES,
    MAX_RESTARTS (c10d rendezvous at MASTER_ADDR:MASTER_PORT)."""
    from llamafactory.extras.misc import find_available_port, get_device_count

    nnodes = os.getenv("NNODES", "1")
    nproc_per_node = os.getenv("NPROC_PER_NODE", str(max(1, get_device_count())))
    master_addr = os.getenv("MASTER_ADDR", "127.0.0.1")
    master_port = os.getenv("MASTER_PORT", str(find_available_port()))
    launcher = [sys.executable, "-m", "torch.distributed.run"]  # torchrun, whether or not it is on PATH
    worker = ["-m", "plugins.train_worker", *train_args]
    rdzv_id = os.getenv("RDZV_ID")
    if rdzv_id is None:
        return [*launcher, "--nnodes", nnodes, "--node_rank", os.getenv("NODE_RANK", "0"),
                "--nproc_per_node", nproc_per_node, "--master_addr", master_addr, "--master_port", master_port,
                "--max-restarts", os.getenv("MAX_RESTARTS", "0"), *worker]  # fmt: skip
    min_nnodes, max_nnodes = os.getenv("MIN_NNODES"), os.getenv("MAX_NNODES")
    if (min_nnodes is None) != (max_nnodes is None):
        raise SystemExit("set both MIN_NNODES and MAX_NNODES for an elastic job, or neither")
    rdzv_nnodes = f"{min_nnodes}:{max_nnodes}" if min_nnodes is not None else nnodes
    return [*launcher, "--nnodes", rdzv_nnodes, "--nproc-per-node", nproc_per_node, "--rdzv-id", rdzv_id,
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{master_addr}:{master_port}",
            "--max-restarts", os.getenv("MAX_RESTARTS", "0"), *worker]  # fmt: skip


def torchrun_env() -> dict[str, str]:
    """The environment for torchrun; OPTIM_TORCH=1 adds LLaMA-Factory's DDP memory settings, as its launcher does."""
    from llamafactory.extras.misc import is_env_enabled

    env = dict(os.environ)
    if is_env_enabled("OPTIM_TORCH", "1"):
        env["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"
        env["TORCH_NCCL_AVOID_RECORD_STREAMS"] = "1"
    return env


def check_model(train_args: list[str]) -> dict:
    """The run's settings; fails in one sentence if the config's model cannot be found (before preflight loads
    its tokenizer)."""
    from plugins.model_source import ModelSourceError, describe_model_source
    from plugins.run_config import RunConfigError, load_run_config

    try:
        settings = load_run_config(train_args[0], train_args[1:])
        print(f"model: {describe_model_source(str(settings.get('model_name_or_path', '')))}", flush=True)
    except (RunConfigError, ModelSourceError) as error:
        raise SystemExit(f"cannot train: {error}") from None
    return settings


def checked_inputs(settings: dict) -> tuple[dict, str | None]:
    """The run's input settings as LLaMA-Factory parses them, and the "resuming from ..." line when it continues a
    checkpoint; stops in one sentence when those inputs differ from the checkpoint's (plugins.resume_guard)."""
    from plugins.resume_guard import ResumeRefused, check_resume
    from plugins.run_inputs import RunInputsError, input_settings

    try:
        inputs = input_settings(settings)
        return inputs, check_resume(settings, inputs)
    except (RunInputsError, ResumeRefused) as error:
        raise SystemExit(f"cannot train: {error}") from None


def record_run_inputs(train_args: list[str], settings: dict, inputs: dict) -> None:
    """Write output_dir/run_inputs.json: the input settings as LLaMA-Factory parses them, for evaluation to reuse."""
    from plugins.model_identity import base_model_identity
    from plugins.run_inputs import write_run_inputs

    model = base_model_identity(str(settings["model_name_or_path"]), inputs["model_revision"])
    write_run_inputs(settings["output_dir"], inputs, source=train_args, base_model=model)


def train_log_path(settings: dict) -> Path:
    """Where every process of a run appends the full library log."""
    return Path(settings.get("output_dir") or ".") / TRAIN_LOG_NAME


def hang_callbacks(settings: dict, hang_timeout_s: float) -> list:
    """This rank's heartbeat (output_dir/heartbeat/rank-K.json, plugins.heartbeat) moved by a trainer callback, and
    its watchdog (plugins.watchdog: stacks dumped after ``hang_timeout_s`` without progress; 0 = no watchdog)."""
    from plugins.heartbeat import start_process_heartbeat
    from plugins.heartbeat_callback import HeartbeatCallback
    from plugins.watchdog import Watchdog

    heartbeat = start_process_heartbeat(settings.get("output_dir") or ".", hang_timeout_s)
    return [HeartbeatCallback(heartbeat, Watchdog(heartbeat, hang_timeout_s))]


def run_training(callbacks: list) -> None:
    """LLaMA-Factory's training (it reads CONFIG.yaml and key=value overrides from sys.argv, as llamafactory-cli
    does), with ``callbacks`` added to the trainer's. A clip that cannot be read mid-run stops it with the clip and
    the fix named, not a traceback."""
    from llamafactory.train.tuner import run_exp

    from plugins.mm_plugin import ClipReadError

    try:
        run_exp(callbacks=callbacks)
    except ClipReadError as error:
        raise SystemExit(f"training stopped: {error}") from None
    except RuntimeError as error:  # raised in a DataLoader worker, it arrives as text in a RuntimeError
        marker = f"{ClipReadError.__name__}: "
        if marker not in str(error):
            raise
        raise SystemExit(f"training stopped: {str(error).rsplit(marker, 1)[1].strip()}") from None


def main() -> None:
    from plugins.preflight import split_preflight_options
    from plugins.run_config import llamafactory_argv
    from plugins.watchdog import hang_timeout_from_env, nccl_trace_env

    train_args, preflight_options = split_preflight_options(sys.argv[1:])
    if not train_args or not train_args[0].endswith((".yaml", ".yml")):
        raise SystemExit(USAGE)
    hang_timeout_s = hang_timeout_from_env()  # read once here; torchrun's workers read the same variable
    settings = check_model(train_args)
    inputs, resume = checked_inputs(settings)  # a resume under other inputs stops here, before any long work
    train_args = llamafactory_argv(train_args[0], train_args[1:])  # eval_strategy=no stays text, as we read it
    sys.argv[1:] = train_args  # LLaMA-Factory (run_exp, torchrun's workers) reads the config from sys.argv
    if log_libraries_to(train_log_path(settings)):
        print(f"full log: {train_log_path(settings)}", flush=True)

    # Preflight: every sample fits cutoff_len, its text keeps the chat format, its clip's frames decode
    plugins.register()
    run_preflight(train_args, tuple(preflight_options))
    # after the preflight (a refused run keeps the old record), before training (a crashed run has it too)
    record_run_inputs(train_args, settings, inputs)

    # Training: here, or in torchrun's processes
    if resume:
        print(resume, flush=True)
    if wants_torchrun():
        command = torchrun_command(train_args)
        env = torchrun_env()
        env.update(nccl_trace_env(settings["output_dir"], env))
        print("launching:", " ".join(command), flush=True)
        print(f"NCCL flight recorder: a rank that times out in a collective dumps to "
              f"{env['TORCH_NCCL_DEBUG_INFO_TEMP_FILE']}<rank>", flush=True)  # fmt: skip
        # Become torchrun rather than start it: a signal sent to this launcher (kill, a scheduler's SIGTERM) then
        # reaches torchrun, which stops its workers; a child torchrun would be orphaned and train on.
        os.execve(command[0], command, env)

    use_frame_source(template_plugin(settings.get("template")), settings)  # the store the preflight filled
    run_training(hang_callbacks(settings, hang_timeout_s))
    print(f"adapter, checkpoints and trainer_log.jsonl: {Path(settings['output_dir']).resolve()}", flush=True)


if __name__ == "__main__":
    main()
