"""The trainer callback that moves a rank's heartbeat through each step's phases and runs its watchdog.

    run_exp(callbacks=[HeartbeatCallback(heartbeat, Watchdog(heartbeat, timeout_s))])   # plugins.train does this

Phases, in the order a step goes through them: "data" (waiting for the next batch from the DataLoader), "forward",
"backward" (the model's forward returned; its loss is being backpropagated), "optimizer step", then "save" or
"evaluate" where the trainer will do that next, then "data" again; "done" at the end. The step is the trainer's
global_step (optimizer steps completed). Forward and backward come from hooks on the model (training mode only).
"""

from transformers import TrainerCallback

from plugins.heartbeat import Heartbeat
from plugins.watchdog import Watchdog


def next_phase(control) -> str:
    """What the trainer does after a step or an epoch: evaluate, save, or fetch the next batch."""
    if control.should_evaluate:
        return "evaluate"
    return "save" if control.should_save else "data"


class HeartbeatCallback(TrainerCallback):
    """Writes ``heartbeat`` at every phase of every step; starts ``watchdog`` with training, stops it at the end."""

    def __init__(self, heartbeat: Heartbeat, watchdog: Watchdog | None = None):
        self.heartbeat = heartbeat
        self.watchdog = watchdog
        self._hooks = []

    def _forward_started(self, module, args) -> None:
        if module.training:
            self.heartbeat.beat(phase="forward")

    def _forward_returned(self, module, args, output) -> None:
        if module.training:
            self.heartbeat.beat(phase="backward")

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.heartbeat.beat(step=state.global_step, phase="data")
        if model is not None:
            self._hooks = [model.register_forward_pre_hook(self._forward_started),
                           model.register_forward_hook(self._forward_returned)]  # fmt: skip
        if self.watchdog is not None:
            self.watchdog.start()

    def on_step_begin(self, args, state, control, **kwargs):
        self.heartbeat.beat(step=state.global_step, phase="forward")

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.heartbeat.beat(phase="optimizer step")

    def on_step_end(self, args, state, control, **kwargs):
        self.heartbeat.beat(step=state.global_step, phase=next_phase(control))

    def on_epoch_end(self, args, state, control, **kwargs):
        self.heartbeat.beat(step=state.global_step, phase=next_phase(control))

    def on_evaluate(self, args, state, control, **kwargs):
        self.heartbeat.beat(phase="save" if control.should_save else "data")

    def on_save(self, args, state, control, **kwargs):
        self.heartbeat.beat(phase="data")

    def on_train_end(self, args, state, control, **kwargs):
        for hook in self._hooks:
            hook.remove()
        if self.watchdog is not None:
            self.watchdog.stop()
        self.heartbeat.beat(step=state.global_step, phase="done")
