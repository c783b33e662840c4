"""Kill a worker process of a running pool, as the out-of-memory killer would, and see what the caller does
(tests/test_decode_check.py, tests/test_preflight_parallel.py)."""

import multiprocessing
import os
import signal
import threading
import time


def error_when_a_worker_is_killed(call, error_type: type[Exception], start_timeout: float = 120) -> Exception | None:
    """Run ``call()`` in a thread, SIGKILL the first child process it starts, and return the ``error_type`` it
    raised (None if it returned). Fails the test if the call is still running a minute after the kill."""
    outcome = {}

    def run():
        try:
            call()
        except error_type as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive(), "the call hung after a worker died"
    return outcome.get("error")
