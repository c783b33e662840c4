"""Old store directories (another setting, another version of the reader) are listed with their size and deleted
on request, never the one the config reads nor a folder that is not a store."""

import dataclasses
import io
import json

import pytest

from plugins.frames import load_config, target_for_config
from plugins.frames import main as frames_main
from tests.training_fixtures import REPO_ROOT, write_train_config


def _fake_store(directory, settings, size: int, entries: int | None = None) -> None:
    """A store directory as build and merge leave it, with ``size`` bytes of shard data."""
    directory.mkdir(parents=True)
    (directory / "settings.json").write_text(json.dumps({"settings": settings.as_dict(), "codec": "zlib",
                                                        "num_shards": 1}))  # fmt: skip
    (directory / "shard-00000-of-00001.data").write_bytes(b"\0" * size)
    if entries is not None:
        (directory / "manifest.json").write_text(json.dumps({"entries": entries}))


@pytest.fixture
def store_root(tmp_path, tiny_model_dir, monkeypatch):
    """(config, root, {status: directory}) with one store directory of each kind under the root."""
    root = tmp_path / "frames"
    monkeypatch.setenv("FRAME_STORE_DIR", str(root))
    config = write_train_config(tmp_path, tiny_model_dir, REPO_ROOT / "data" / "sample")
    target = target_for_config(load_config(config), config)
    other = dataclasses.replace(target.settings, video_maxlen=4)
    stale = dataclasses.replace(target.settings, code="0" * 16)  # built by another version of the reader
    directories = {"read": target.directory, "other": root / other.digest, "stale": root / stale.digest,
                   "not a store": root / "notes", "half deleted": root / ".deleting-0123"}  # fmt: skip
    _fake_store(directories["read"], target.settings, 3_000_000, entries=3)
    _fake_store(directories["other"], other, 2_000_000, entries=2)
    _fake_store(directories["stale"], stale, 5_000_000)
    (directories["not a store"]).mkdir()
    (directories["not a store"] / "todo.txt").write_text("mine")
    _fake_store(directories["half deleted"], stale, 10)
    return config, root, directories


def test_lists_each_directory_with_size_and_status_and_deletes_nothing(store_root, capsys):
    config, root, directories = store_root
    frames_main(["prune", str(config)])
    printed = capsys.readouterr().out
    assert f"frame store root {root}: 5 directories" in printed
    lines = {line.split()[0]: line for line in printed.splitlines() if line.startswith("  ")}
    assert "read by this config" in lines[directories["read"].name] and "3 clips" in lines[directories["read"].name]
    assert "3.00 MB" in lines[directories["read"].name] and "5.00 MB" in lines[directories["stale"].name]
    assert "other settings" in lines[directories["other"].name] and "video_maxlen 4" in lines[directories["other"].name]
    assert "stale" in lines[directories["stale"].name] and "not merged" in lines[directories["stale"].name]
    assert "not a store" in lines["notes"] and "half deleted" in lines[".deleting-0123"]
    assert all(directory.exists() for directory in directories.values())
    assert "--delete stale" in printed


def test_delete_stale_keeps_every_store_a_config_can_read(store_root, capsys):
    config, _, directories = store_root
    frames_main(["prune", str(config), "--delete", "stale", "--yes"])
    gone = {name for name, directory in directories.items() if not directory.exists()}
    assert gone == {"stale", "half deleted"}
    assert "freed 5.00 MB" in capsys.readouterr().out  # 5,000,010 bytes and two small settings files


def test_delete_unread_keeps_only_the_config_s_store_and_what_is_not_a_store(store_root):
    config, root, directories = store_root
    frames_main(["prune", str(config), "--delete", "unread", "--yes"])
    assert sorted(path.name for path in root.iterdir()) == sorted([directories["read"].name, "notes"])


def test_a_delete_lists_what_goes_and_off_a_terminal_refuses_without_yes(store_root, monkeypatch, capsys):
    config, _, directories = store_root
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script or CI: no terminal
    with pytest.raises(SystemExit, match=r"not deleting these 3 directories .*: rerun with --delete unread --yes"):
        frames_main(["prune", str(config), "--delete", "unread"])
    listed = capsys.readouterr().out.split("--delete unread removes 3 directories")[1]
    assert all(str(directories[name]) in listed for name in ("other", "stale", "half deleted"))
    assert all(directory.exists() for directory in directories.values())


@pytest.mark.parametrize(("answer", "deleted"), [("y", True), ("", False), ("no", False)])
def test_on_a_terminal_a_delete_asks_first(store_root, monkeypatch, answer, deleted):
    config, _, directories = store_root
    terminal = io.StringIO(answer + "\n")
    terminal.isatty = lambda: True
    monkeypatch.setattr("sys.stdin", terminal)
    frames_main(["prune", str(config), "--delete", "stale"])
    assert directories["stale"].exists() is not deleted and directories["other"].exists()


def test_readers_never_open_a_directory_being_deleted(store_root):
    from frame_store.plugin_hook import _listed, _stamp

    _, root, directories = store_root
    assert directories["half deleted"] not in _listed(root, _stamp(root))
    assert directories["read"] in _listed(root, _stamp(root))
