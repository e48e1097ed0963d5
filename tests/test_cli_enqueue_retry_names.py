"""The command line names what the study holds: `enqueue` a parameter whose name holds '=', and `retry` the failures
it leaves alone by default."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.attributes import EnqueuedAttr, read_attr
from tunesmith.cli import cli
from tunesmith.trial import TrialKind


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _queued(name: str, url: str) -> list[dict[str, object]]:
    queue = read_attr(ts.Study.load(name, url).attrs, EnqueuedAttr)
    return [] if queue is None else [entry["params"] for entry in queue.configs]


# enqueue: a name holding '=' ------------------------------------------------------------------------
def test_enqueue_cuts_name_value_at_the_equals_sign_after_a_parameter_name_the_space_knows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/eq.db"
    ts.Study(ts.Space({"opt=lr": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="eq", sampler="random")

    result = invoke("enqueue", "--study", "eq", "--storage", url, "opt=lr=0.5")

    assert result.exit_code == 0, result.output
    assert _queued("eq", url) == [{"opt=lr": 0.5}]


def test_enqueue_refuses_a_pair_that_two_parameter_names_read_naming_both_and_the_python_call(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/eq.db"
    space = ts.Space({"opt": ts.Choice(["lr=0.5", "sgd"]), "opt=lr": ts.Float(0.0, 1.0)})
    ts.Study(space, metric="loss", storage=url, name="eq", sampler="random")

    result = CliRunner().invoke(cli, ["enqueue", "--study", "eq", "--storage", url, "opt=lr=0.5"])

    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())  # the console may wrap the line
    assert "'opt=lr=0.5' reads as 'opt' set to 'lr=0.5' or as 'opt=lr' set to 0.5" in said
    assert ".enqueue({'opt': 'lr=0.5'}) or .enqueue({'opt=lr': 0.5})" in said
    assert _queued("eq", url) == [], "nothing was queued on a guess"


def test_enqueue_refuses_a_parameter_given_twice_naming_both_values(tmp_path: Path) -> None:
    """``k=1 k=5`` queued k=5 and exited 0: the first value was dropped without a word."""
    url = f"sqlite:///{tmp_path}/twice.db"
    space = ts.Space({"x": ts.Float(0.0, 1.0), "k": ts.Int(1, 5)})
    ts.Study(space, metric="loss", storage=url, name="twice", sampler="random")

    result = CliRunner().invoke(cli, ["enqueue", "--study", "twice", "--storage", url, "x=0.5", "k=1", "k=5"])

    assert result.exit_code == 1, result.output
    assert "k given twice (k=1, k=5): give each parameter once" in " ".join(result.output.split())
    assert _queued("twice", url) == [], "nothing was queued on a guess"


# retry: the failures it leaves alone by default ------------------------------------------------------
def test_retry_that_requeues_nothing_names_the_failures_of_other_kinds_and_the_kind_flag_that_requeues_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/slow.db"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="slow",
                     sampler="random", seed=0, budget=ts.Budget(trials=4))  # fmt: skip
    for kind in (TrialKind.TIMEOUT, TrialKind.TIMEOUT, TrialKind.NON_FINITE):
        study.tell(study.ask(), reason="ran past its time limit", kind=kind)
    study.tell(study.ask(), 0.3)
    study.storage.close()

    result = invoke("retry", "slow", "--storage", url)

    said = " ".join(result.output.split())
    assert "nothing re-queued; 3 FAILED trials of other kinds are owed one (2 timeout, 1 non_finite)" in said
    assert "not re-queued by default" in said
    named = re.search(r"`(tunesmith retry [^`]+)`", said)
    assert named is not None, said
    assert named.group(1) == f"tunesmith retry slow --storage {url} --kind timeout --kind non_finite", said
    again = invoke(*shlex.split(named.group(1))[1:])
    assert "re-queued 3 failed trials of slow (#0, #1, #2" in again.output, again.output
    assert f"`tunesmith worker slow --storage {url}` runs them first" in " ".join(again.output.split())
