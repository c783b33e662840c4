"""The preflight's token counting over processes, with the same report as one process.

    from plugins.preflight_parallel import SampleMeasurer
    # encoder: a plugins.preflight_encode.SampleEncoder; datasets: {name: AlignedSamples}, loaded before the workers
    with SampleMeasurer(encoder, datasets, workers=8) as measurer:
        for index, sample_id, measured in measurer.measure("webvid_train", ids):   # in file order
            ...

Each sample is measured by SampleEncoder.measure, the same step as in one process, and results come back in file
order, so the report (lengths, offenders, --drop-offending output) does not depend on the number of processes.
Workers are forked from the parent after LLaMA-Factory, our registered template, the encoder and the aligned
datasets are loaded (as LLaMA-Factory's own ``preprocessing_num_workers`` does with datasets.map): a worker starts in
milliseconds instead of re-importing torch and transformers, and reads its own samples from the shared, memory-mapped
datasets, so the parent only hands out index ranges and collects lengths. At most a few ranges per worker are in
flight, so memory stays flat on millions of samples. A streamed dataset (no length, no random access) is measured
in the parent. A worker that dies (e.g. the out-of-memory killer) raises PreflightError naming the samples and the
fix; Ctrl-C stops the run at once (workers ignore it, the parent cancels what is queued); a killed preflight takes
its workers with it (common/pool.py).
"""

from collections.abc import Iterator

import torch

import plugins
from common.pool import WorkerDied, WorkerPool
from plugins.preflight_encode import SampleEncoder, SampleMeasure
from plugins.preflight_report import PreflightError

MAX_SAMPLES_PER_TASK = 64  # ~0.1 s of work: cheap to hand out; Ctrl-C waits for the few ranges already handed out

_worker_state: tuple[SampleEncoder, dict] | None = None  # in a worker process only: set once by _start_worker


def _start_worker(encoder: SampleEncoder, datasets: dict) -> None:
    """Worker initializer (after common.pool's own: Ctrl-C ignored, exit when the parent dies)."""
    global _worker_state  # noqa: PLW0603 - per-process state of a pool worker, set once at its start
    # A forked child cannot use the OpenMP thread pool its parent started (any torch op before the fork does): its
    # first parallel torch op would wait forever. One thread per worker, as torch's own DataLoader workers do.
    torch.set_num_threads(1)
    plugins.register()  # idempotent; a forked worker inherits the registration, this proves it is there
    _worker_state = (encoder, datasets)


def _measure_range(task: tuple[str, int, list[str]]) -> list[SampleMeasure]:
    """Task (dataset, start, ids): samples ``start`` .. ``start + len(ids)`` of ``dataset``, read and measured in
    this worker."""
    from plugins.llamafactory_boundary import AlignedSamples

    dataset, start, ids = task
    encoder, datasets = _worker_state
    samples = AlignedSamples(datasets[dataset].dataset.select(range(start, start + len(ids))))
    return [encoder.measure(dataset, start + n, ids[n], sample) for n, sample in enumerate(samples)]


def _task_size(n_samples: int, workers: int) -> int:
    return max(1, min(MAX_SAMPLES_PER_TASK, n_samples // (workers * 8)))


def _sample_ids(ids: list[str], start: int, stop: int) -> list[str]:
    """The records' ids (their position where a record has none)."""
    return [ids[index] if index < len(ids) else str(index) for index in range(start, stop)]


class SampleMeasurer:
    """Measures the samples of ``datasets`` ({name: AlignedSamples}) with a SampleEncoder on ``workers`` processes
    (in this process when workers is 1).

    Use as a context manager: leaving it on an exception (Ctrl-C included) cancels the queued ranges and does not
    wait for the workers."""

    def __init__(self, encoder: SampleEncoder, datasets: dict, workers: int):
        self.encoder = encoder
        self.datasets = datasets
        self.workers = workers
        self._pool = None
        if workers > 1:
            # fork: the workers inherit the loaded libraries, this encoder and the datasets instead of loading them
            self._pool = WorkerPool(
                workers, start_method="fork", initializer=_start_worker, initargs=(encoder, datasets)
            )

    def __enter__(self) -> "SampleMeasurer":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, cancel: bool = True) -> None:
        """Stop the workers; with ``cancel`` (an interrupted or failed run) drop queued ranges and do not wait."""
        if self._pool is not None:
            self._pool.close(cancel)

    def measure(self, dataset: str, ids: list[str]) -> Iterator[tuple[int, str, SampleMeasure]]:
        """(index, id, SampleMeasure) for each sample of ``dataset`` in file order, with a progress bar and its rate.

        ``ids``: the records' ids (their position where missing). Raises PreflightError if a worker dies."""
        from tqdm import tqdm

        samples = self.datasets[dataset]
        try:
            total = len(samples)
        except TypeError:  # streamed: no length, no random access
            total = None
        with tqdm(total=total, desc=f"preflight {dataset}", unit="sample") as bar:
            if self._pool is None or total is None:
                results = self._measured_here(dataset, samples, ids)
            else:
                results = self._measured_in_workers(dataset, total, ids)
            for result in results:
                bar.update(1)
                yield result

    def _measured_here(self, dataset: str, samples, ids: list[str]) -> Iterator[tuple[int, str, SampleMeasure]]:
        for index, sample in enumerate(samples):
            sample_id = ids[index] if index < len(ids) else str(index)
            yield index, sample_id, self.encoder.measure(dataset, index, sample_id, sample)

    def _measured_in_workers(self, dataset: str, total: int, ids: list[str]):
        size = _task_size(total, self.workers)
        tasks = ((dataset, start, _sample_ids(ids, start, min(total, start + size))) for start in range(0, total, size))
        try:
            for (_, start, range_ids), measured in self._pool.results(_measure_range, tasks, ordered=True):
                for offset, result in enumerate(measured):
                    yield start + offset, range_ids[offset], result
        except WorkerDied as died:
            _, start, range_ids = died.task
            raise PreflightError(
                f"a preflight worker process died (killed, e.g. by the out-of-memory killer?) while counting the "
                f"tokens of {dataset} samples {start}-{start + len(range_ids) - 1}: the preflight did not finish. "
                f"Rerun with fewer processes (--workers N, now {self.workers}) or more memory."
            ) from None
