"""common.pool and common.parent_watch: results in order or as they finish, a few tasks in flight, a task's error
or a dead worker naming the task, and a worker that outlives its parent by no more than a poll."""

import os
import signal
import subprocess
import sys
import time

import pytest

from common.pool import TASKS_IN_FLIGHT_PER_WORKER, WorkerDied, WorkerPool
from tests.process_tree import ON_LINUX, children, describe, kill_session, session_processes, wait_for
from tests.training_fixtures import REPO_ROOT


def _slower_the_smaller(task: int) -> int:
    time.sleep(0.05 * (3 - task))
    return task * 10


def test_results_in_task_order_or_as_they_finish():
    with WorkerPool(2, start_method="fork") as pool:
        ordered = list(pool.results(_slower_the_smaller, [0, 1, 2, 3], ordered=True))
        unordered = list(pool.results(_slower_the_smaller, [0, 1, 2, 3], ordered=False))
    assert ordered == [(0, 0), (1, 10), (2, 20), (3, 30)]
    assert sorted(unordered) == ordered


def test_only_a_few_tasks_per_worker_are_handed_out_ahead():
    taken = []

    def tasks():
        for task in range(1000):
            taken.append(task)
            yield task

    with WorkerPool(2, start_method="fork") as pool:
        results = pool.results(abs, tasks(), ordered=True)
        assert next(results) == (0, 0)
        assert len(taken) == 2 * TASKS_IN_FLIGHT_PER_WORKER
        assert sum(1 for _ in results) == 999


def test_an_error_in_a_task_arrives_as_itself_naming_the_task():
    with pytest.raises(ValueError, match="invalid literal") as raised, WorkerPool(2, start_method="fork") as pool:
        list(pool.results(int, ["1", "2", "not a number"], ordered=True))
    assert "(raised in a worker process, on task 'not a number')" in raised.value.__notes__


def test_a_worker_that_dies_is_an_error_naming_its_task():
    with pytest.raises(WorkerDied) as raised, WorkerPool(1, start_method="spawn") as pool:
        list(pool.results(os._exit, [3], ordered=False))  # the worker process ends mid-task
    assert raised.value.task == 3 and "task 3 was pending" in str(raised.value)


WATCHED_CHILD = """
import subprocess, sys
watched = "from common.parent_watch import exit_when_parent_dies; import time; exit_when_parent_dies(); "
watched += "print('watching', flush=True); time.sleep(600)"
subprocess.run([sys.executable, "-c", watched])
"""


@pytest.mark.slow  # a kill: make test-fast runs no kill, browser or training
@pytest.mark.skipif(not ON_LINUX, reason="watches the process tree through /proc")
def test_a_watched_child_exits_when_its_parent_is_killed():
    """The parent's kill -9 leaves no orphan running, and the output pipe they shared closes."""
    parent = subprocess.Popen([sys.executable, "-c", WATCHED_CHILD], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              start_new_session=True)  # fmt: skip
    try:
        assert parent.stdout.readline() == b"watching\n"  # the child has started its watch
        (child,) = children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        wait_for(lambda: not session_processes(parent.pid), f"the orphan to exit: {describe([child])}", timeout=10)
        assert parent.stdout.read() == b""  # the pipe is closed: `| tee` would return
    finally:
        kill_session(parent.pid)


CTRL_C_AS_THE_POOL_STARTS = """
import os, signal
from concurrent.futures import ProcessPoolExecutor
from common.pool import WorkerPool

launch = ProcessPoolExecutor._launch_processes

def launch_then_ctrl_c(executor):  # Ctrl-C once the workers exist, before the thread that stops them does
    launch(executor)
    os.kill(os.getpid(), signal.SIGINT)

ProcessPoolExecutor._launch_processes = launch_then_ctrl_c
pool = WorkerPool(2, start_method="fork")
try:
    list(pool.results(abs, [-1], ordered=True))
except KeyboardInterrupt:
    pool.close(cancel=True)
    print("interrupted", flush=True)
"""


def test_ctrl_c_as_the_pool_starts_its_workers_still_lets_the_run_exit():
    """Ctrl-C landing inside the first submit, between the workers' start and their manager thread's, used to leave
    the interpreter's exit waiting forever on workers nothing would stop."""
    process = subprocess.Popen([sys.executable, "-c", CTRL_C_AS_THE_POOL_STARTS], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        output, _ = process.communicate(timeout=60)
    finally:
        kill_session(process.pid)
    assert output == b"interrupted\n" and process.returncode == 0
