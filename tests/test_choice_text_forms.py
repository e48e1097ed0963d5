"""A choice's options must differ as text: a CSV cell (``tunesmith export`` read back as a warm start) and
``tunesmith enqueue name=value`` name an option by how it is written, and ``1`` and ``"1"`` are both written ``1``.

Such options were accepted, and text named the first of them: results of ``"1"`` came back as ``1``, and the
samplers learned the wrong option's value. A study stored with them before still opens; text that names two of
its options is refused rather than read as either.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.errors import SpaceError
from tunesmith.study._known import from_text


@pytest.mark.parametrize(
    ("options", "written"),
    [([1, "1"], "'1'"), (["a", None, "None"], "'None'"), ([None, "null"], "'null'"), ([True, "true"], "'true'"),
     ([2.5, "2.5"], "'2.5'")],
)  # fmt: skip
def test_choice_options_written_alike_as_text_are_refused(options: list[Any], written: str) -> None:
    with pytest.raises(SpaceError, match=rf"options must differ as text.*both written {written}: give them labels"):
        ts.Choice(options)


def test_a_study_stored_with_options_written_alike_opens_and_refuses_text_naming_two_of_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/older.db"
    ts.Study(ts.Space({"c": ts.Choice(["p", "q"]), "x": ts.Float(0, 1)}), metric="loss", storage=url, name="s")
    with closing(sqlite3.connect(tmp_path / "older.db")) as conn, conn:  # as a version that accepted them stored it
        (text,) = conn.execute("SELECT spec FROM studies").fetchone()
        spec = json.loads(text)
        spec["space"]["c"]["options"] = [1, "1", "two"]
        conn.execute("UPDATE studies SET spec = ?", (json.dumps(spec),))

    older = ts.Study.load("s", url)

    assert older.space["c"].to_json()["options"] == [1, "1", "two"]
    assert from_text(older.space["c"], "two") == "two"
    with pytest.raises(SpaceError, match=r"must name one option, got '1', which is how options 1 and '1'"):
        from_text(older.space["c"], "1")
