"""Kill a worker process of a running pool, as the out-of-memory killer would, and see what the caller does
(tests/test_decode_check.py, tests/test_preflight_parallel.py)."""

import multiprocessing
import os
import signal
import threading

from tests.process_tree import wait_for


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
    workers = wait_for(multiprocessing.active_children, "the call to start a worker process", timeout=start_timeout)
    os.kill(workers[0].pid, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive(), "the call hung after a worker died"
    return outcome.get("error")
