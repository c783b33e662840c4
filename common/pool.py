"""The one process pool of every parallel pass (converter probes, decode check, token count, frame store build).

    from common.pool import WorkerDied, WorkerPool
    with WorkerPool(4, start_method="spawn") as pool:
        for task, result in pool.results(decode_task, tasks, ordered=False):   # each as it finishes
            ...
    # ordered=True: in the order of ``tasks``.  decode_task(task) runs in a worker: a module-level function, or a
    # functools.partial of one, for the constant arguments.

Its workers ignore Ctrl-C (it reaches the whole process group; the parent handles it by leaving the block, which
drops the queued tasks and does not wait for the workers) and exit within a fraction of a second when the parent
dies, even by kill -9 (common/parent_watch.py), so no orphan keeps working or holds a `| tee` pipe open. A
worker process that dies (the out-of-memory killer) raises WorkerDied naming the task it had; an exception raised
by the task itself arrives as it is, with a note naming the task. At most TASKS_IN_FLIGHT_PER_WORKER tasks per
worker wait in memory, so ``tasks`` may be a generator over millions.

start_method: "spawn" where the parent runs torch or tokenizers threads (a forked child may deadlock on a lock one
of them held); "fork" to hand the workers loaded objects through ``initializer(*initargs)`` without pickling, or
to start them in milliseconds. A spawn pool also starts multiprocessing's resource tracker, which exits when the
parent and the last worker are gone.
"""

import contextlib
import multiprocessing
import os
import reprlib
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from common.parent_watch import exit_when_parent_dies

TASKS_IN_FLIGHT_PER_WORKER = 4  # keeps every worker busy while bounding what waits in memory


class WorkerDied(RuntimeError):
    """A worker process died (killed: the out-of-memory killer, a signal) while ``task`` was pending."""

    def __init__(self, task):
        super().__init__(f"a worker process died while task {reprlib.repr(task)} was pending")
        self.task = task


@contextlib.contextmanager
def _ctrl_c_held_back():
    """Ctrl-C (SIGINT) delivered when the block ends rather than inside it (POSIX; elsewhere no effect).

    The first ProcessPoolExecutor.submit starts the workers, then the thread that later stops them: a
    KeyboardInterrupt between the two leaves workers that nothing stops, and the interpreter's exit waits for them
    forever."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start_worker(parent_pid: int, initializer: Callable | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # started inside _ctrl_c_held_back; ignored from now on instead
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    exit_when_parent_dies(parent_pid)
    if initializer is not None:
        initializer(*initargs)


def _result(future: Future, task):
    try:
        return future.result()
    except BrokenProcessPool:
        raise WorkerDied(task) from None
    except Exception as error:
        error.add_note(f"(raised in a worker process, on task {reprlib.repr(task)})")
        raise


class WorkerPool:
    """``workers`` processes started with ``start_method``; each runs ``initializer(*initargs)`` once first."""

    def __init__(self, workers: int, *, start_method: str, initializer: Callable | None = None, initargs: tuple = ()):
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context(start_method),
            initializer=_start_worker,
            initargs=(os.getpid(), initializer, initargs),
        )

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, cancel: bool = True) -> None:
        """Stop the workers; with ``cancel`` (an interrupted or failed run) drop queued tasks and do not wait."""
        self._executor.shutdown(wait=not cancel, cancel_futures=True)

    def results(self, function: Callable, tasks: Iterable, *, ordered: bool) -> Iterator[tuple]:
        """``(task, function(task))`` for every task, computed in the workers: in the order of ``tasks`` when
        ``ordered``, else as each finishes. Raises WorkerDied if a worker process dies."""
        pending: dict[Future, object] = {}  # in the order submitted
        for task in tasks:
            with _ctrl_c_held_back():
                pending[self._executor.submit(function, task)] = task
            if len(pending) >= self.workers * TASKS_IN_FLIGHT_PER_WORKER:
                yield from self._collect(pending, ordered)
        while pending:
            yield from self._collect(pending, ordered)

    @staticmethod
    def _collect(pending: dict[Future, object], ordered: bool) -> Iterator[tuple]:
        """The oldest task's result when ``ordered``; else those of every task finished once one has."""
        done = [next(iter(pending))] if ordered else wait(pending, return_when=FIRST_COMPLETED)[0]
        for future in done:
            task = pending.pop(future)
            yield task, _result(future, task)
