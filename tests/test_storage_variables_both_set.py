"""`storage=None` in Python refuses both storage variables set, as every `tunesmith` command does."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.errors import StorageError


def test_python_refuses_both_storage_variables_as_the_cli_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It used TUNESMITH_STORAGE without a word, while `tunesmith studies` exited 1 on the same environment."""
    url_file = tmp_path / "url.txt"
    url_file.write_text(f"sqlite:///{tmp_path / 'from_file.db'}\n")
    monkeypatch.setenv("TUNESMITH_STORAGE", f"sqlite:///{tmp_path / 'from_variable.db'}")
    monkeypatch.setenv("TUNESMITH_STORAGE_FILE", str(url_file))
    with pytest.raises(
        StorageError, match=r"give the storage once, got both TUNESMITH_STORAGE=.* TUNESMITH_STORAGE_FILE="
    ):
        ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", name="s")
    assert not (tmp_path / "from_variable.db").exists() and not (tmp_path / "from_file.db").exists()


def test_one_variable_alone_still_names_the_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNESMITH_STORAGE_FILE", raising=False)
    monkeypatch.setenv("TUNESMITH_STORAGE", f"sqlite:///{tmp_path / 'from_variable.db'}")
    ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", name="s")
    assert (tmp_path / "from_variable.db").exists()
