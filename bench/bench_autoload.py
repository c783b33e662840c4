"""What the start-up hook `make setup` installs (plugins/autoload.py) costs a Python start that never imports
LLaMA-Factory: `python -c pass` in a venv with the .pth and in the same venv without it, interleaved.

    python -m bench.bench_autoload                 # 25 rounds x 10 starts each
    python -m bench.bench_autoload --rounds 5

Both venvs are throw-away copies over this venv's packages (tests/overlay_venv.py) that also run this venv's other
.pth files, built in a temp folder; the bytecode cache is on (PYTHONDONTWRITEBYTECODE unset) as in a user's venv.
Also timed, in-process: the .pth line compiled and run (its finder created and inserted).
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

from plugins.install_autoload import PTH_NAME, pth_line
from tests.overlay_venv import make_overlay_venv

STARTS_PER_ROUND = 10
LOAD_HOOK = "import sys, time; t = time.perf_counter(); exec(sys.argv[1]); print((time.perf_counter() - t) * 1e3)"


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _start_times(python: Path, env: dict[str, str]) -> tuple[list[float], float]:
    """Wall-clock ms of each of STARTS_PER_ROUND starts, and the CPU ms they used in all (less disturbed by the
    machine's other load than wall-clock time)."""
    times, cpu_before = [], _children_cpu_s()
    for _ in range(STARTS_PER_ROUND):
        start = time.perf_counter()
        subprocess.run([str(python), "-c", "pass"], env=env, check=True)
        times.append((time.perf_counter() - start) * 1e3)
    return times, (_children_cpu_s() - cpu_before) * 1e3


def _copy_other_pth_files(python: Path) -> None:
    """Every .pth of this venv but ours into the venv of ``python``: a real venv runs them too (the first .pth line
    that runs code pays for the interpreter's first compile, whichever it is)."""
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    for pth in Path(sysconfig.get_paths()["purelib"]).glob("*.pth"):
        if pth.name != PTH_NAME:
            shutil.copy(pth, target)


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    return (
        f"min {ordered[0]:.2f} ms, p10 {ordered[len(ordered) // 10]:.2f} ms, median {statistics.median(ordered):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as folder:
        pythons = {
            "without the hook": make_overlay_venv(Path(folder) / "bare", with_hook=False) / "python",
            "with the hook": make_overlay_venv(Path(folder) / "hook", with_hook=True) / "python",
        }
        for python in pythons.values():  # the project venv's other .pth files (setuptools' distutils shim), as there
            _copy_other_pth_files(python)
        for python in pythons.values():  # warm the bytecode caches
            subprocess.run([str(python), "-c", "pass"], env=env, check=True)
        times: dict[str, list[float]] = {name: [] for name in pythons}
        cpu_ms = dict.fromkeys(pythons, 0.0)
        for _ in range(args.rounds):
            for name, python in pythons.items():
                wall, cpu = _start_times(python, env)
                times[name] += wall
                cpu_ms[name] += cpu
        load = [
            float(subprocess.run([str(pythons["without the hook"]), "-c", LOAD_HOOK, pth_line()], env=env,
                                 capture_output=True, text=True, check=True).stdout)
            for _ in range(STARTS_PER_ROUND)
        ]  # fmt: skip
    for name, measured in times.items():
        cpu = cpu_ms[name] / len(measured)
        print(f"python -c pass, {name}: {_summary(measured)}; CPU {cpu:.2f} ms a start ({len(measured)} starts)")
    print(f"the .pth line (compile, one class, one insert), in-process: {_summary(load)}")


if __name__ == "__main__":
    main()
