"""`llamafactory-cli` in a venv set up by `make setup` knows our templates (plugins/autoload.py, installed by
plugins/install_autoload.py), records its training runs (plugins/llamafactory_cli.py) and costs other start-ups
nothing but the hook itself."""

import ast
import json
import os
import subprocess
import sys

import pytest

from plugins.install_autoload import AUTOLOAD, HOOK_CLASS, PTH_NAME, install
from tests.overlay_venv import make_overlay_venv
from tests.training_fixtures import REPO_ROOT, log_of, write_train_config


def test_the_pth_runs_this_checkouts_hook_and_installing_twice_changes_nothing(tmp_path):
    path, written = install(tmp_path)
    assert written and path == tmp_path / PTH_NAME
    text = path.read_text()
    assert text.count("\n") == 1 and repr(str(AUTOLOAD)) in text and AUTOLOAD.parent.parent == REPO_ROOT
    before = path.stat()
    assert install(tmp_path) == (path, False)
    assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_ino == before.st_ino


def test_a_start_up_with_the_hook_imports_nothing_and_adds_nothing_to_sys_path(tmp_path):
    (tmp_path / "site").mkdir()
    install(tmp_path / "site")
    (tmp_path / "site64").symlink_to(tmp_path / "site")  # a venv's lib64 -> lib: its .pth files are read twice
    probe = (
        "import sys, site; modules, path = set(sys.modules), list(sys.path); site.addsitedir(sys.argv[1]); "
        "site.addsitedir(sys.argv[1] + '64'); "
        "print(sorted(set(sys.modules) - modules), [p for p in sys.path if p not in path and p[:-2] != sys.argv[1] "
        "and p != sys.argv[1]], type(sys.meta_path[0]).__name__, [type(f).__name__ for f in sys.meta_path].count("
        "type(sys.meta_path[0]).__name__))"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "site")], cwd=tmp_path, capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert result.stdout.split() == ["[]", "[]", HOOK_CLASS, "1"], result.stdout + result.stderr


@pytest.mark.parametrize(("argv", "expected"), [
    (["/v/bin/python", "/v/bin/llamafactory-cli", "train", "a.yaml", "k=v"], ("train", ["a.yaml", "k=v"])),
    (["/v/bin/python", "/v/bin/lmf", "webui"], ("webui", [])),
    (["/v/bin/python", "-m", "llamafactory.cli", "export", "m.yaml"], ("export", ["m.yaml"])),
    (["/v/bin/python", "-X", "importtime", "/v/bin/llamafactory-cli"], ("help", [])),
    (["/v/bin/python", "-m", "plugins.train", "a.yaml"], (None, [])),
    (["/v/bin/python", "-c", "import llamafactory"], (None, [])),
    (["/v/bin/python", "evaluate_model.py", "--config", "a.yaml"], (None, [])),
])  # fmt: skip
def test_llamafactory_cli_commands_are_told_from_other_programs(argv, expected):
    from plugins.llamafactory_boundary import llamafactory_cli_command

    assert llamafactory_cli_command(argv) == expected


def test_a_torchrun_worker_of_llamafactory_cli_train_is_a_training_process():
    from importlib.util import find_spec

    from plugins.llamafactory_boundary import llamafactory_cli_command

    launcher = find_spec("llamafactory.launcher").origin  # what LLaMA-Factory hands torchrun
    assert llamafactory_cli_command(["/v/bin/python", "-u", launcher, "a.yaml", "k=v"]) == ("train", ["a.yaml", "k=v"])


@pytest.mark.slow
def test_importing_llamafactory_from_elsewhere_registers_this_checkouts_templates(tmp_path):
    (tmp_path / "site").mkdir()
    install(tmp_path / "site")
    probe = (
        "import sys, site; site.addsitedir(sys.argv[1]); from llamafactory.data import TEMPLATES; import plugins; "
        "print(plugins.__file__); print(' '.join(name for name in TEMPLATES if name.endswith('_exact')))"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "site")], cwd=tmp_path, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, log_of(result)[-4000:]
    plugins_file, templates = result.stdout.strip().splitlines()[-2:]
    assert plugins_file == str(REPO_ROOT / "plugins" / "__init__.py")
    assert {"qwen2_vl_exact", "qwen3_vl_exact", "qwen3_5_exact"} <= set(templates.split())


@pytest.mark.slow
def test_llamafactory_cli_train_uses_our_template_and_writes_the_run_record(tiny_model_dir, sample_dir, tmp_path):
    bin_dir = make_overlay_venv(tmp_path / "venv", with_hook=True)
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=2)  # template qwen2_vl_exact
    workdir = tmp_path / "elsewhere"  # not the checkout: nothing of the project is on sys.path
    workdir.mkdir()
    result = subprocess.run(
        [str(bin_dir / "llamafactory-cli"), "train", str(config), "video_maxlen=4"], cwd=workdir,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, log_of(result)[-4000:]
    saves = tmp_path / "saves"
    assert json.loads((saves / "trainer_state.json").read_text())["global_step"] == 2
    record = json.loads((saves / "run_inputs.json").read_text())
    assert record["written_by"] == "llamafactory-cli train" and record["source"] == [str(config), "video_maxlen=4"]
    assert record["settings"]["template"] == "qwen2_vl_exact" and record["settings"]["video_maxlen"] == 4
    notes = [line for line in result.stdout.splitlines() if "runs no preflight" in line]
    assert len(notes) == 1 and f"python -m plugins.train {config} video_maxlen=4" in notes[0]


def _imported_packages(package: str, packages: set[str]) -> set[str]:
    """The checkout's top-level packages that ``package``'s modules import, directly or through each other."""
    found, todo = {package}, [package]
    while todo:
        for path in (REPO_ROOT / todo.pop()).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for top in {name.split(".")[0] for name in names} & packages - found:
                    found.add(top)
                    todo.append(top)
    return found


def test_the_hook_serves_every_package_the_plugin_imports():
    """A package the plugin imports (common/ for its process pool) but the hook does not serve breaks llamafactory-cli
    when it runs outside the checkout."""
    from plugins.autoload import PROJECT_PACKAGES

    packages = {path.name for path in REPO_ROOT.iterdir() if (path / "__init__.py").is_file()}
    assert _imported_packages("plugins", packages) <= PROJECT_PACKAGES


@pytest.mark.slow
def test_llamafactory_cli_torchrun_workers_register_and_record_once(tiny_model_dir, sample_dir, tmp_path):
    """FORCE_TORCHRUN=1: LLaMA-Factory relaunches itself under torchrun; each worker gets the hook at start-up."""
    bin_dir = make_overlay_venv(tmp_path / "venv", with_hook=True)
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=1)
    result = subprocess.run(
        [str(bin_dir / "llamafactory-cli"), "train", str(config)], cwd=tmp_path,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FORCE_TORCHRUN": "1",
             "NPROC_PER_NODE": "2"},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, log_of(result)[-4000:]
    assert "world size: 2" in log_of(result)
    assert json.loads((tmp_path / "saves" / "run_inputs.json").read_text())["written_by"] == "llamafactory-cli train"
    assert sum("runs no preflight" in line for line in result.stdout.splitlines()) == 1  # local rank 0 alone


def test_llamafactory_cli_train_reads_a_text_no_as_make_train_does(tmp_path, monkeypatch, tiny_model_dir):
    """OmegaConf, which LLaMA-Factory reads the YAML with, turns ``eval_strategy: no`` into False and transformers
    then fails with a traceback; in llamafactory-cli train the hook gives LLaMA-Factory the text, as make train."""
    from llamafactory.hparams.parser import read_args

    from plugins.llamafactory_cli import record_training

    config = tmp_path / "train.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_model_dir}\ntemplate: qwen2_vl_exact\ndataset: x_train\n"
        f"output_dir: {tmp_path / 'saves'}\neval_strategy: no\n"
    )
    monkeypatch.setattr(sys, "argv", ["llamafactory-cli", str(config), "save_strategy=no"])  # after LF's pop
    record_training([str(config), "save_strategy=no"], local_rank=None)
    read = read_args()  # what LLaMA-Factory's parser reads from sys.argv
    assert read["eval_strategy"] == "no" and read["save_strategy"] == "no"
