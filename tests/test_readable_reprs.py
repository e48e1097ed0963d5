"""`print(study.best)` and `print(study.optimize(...))` read as one line each, not as the dataclass dump of every
reported step (a 50-epoch trial's ran to thousands of characters)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli


def _objective(trial: ts.Trial) -> dict[str, float]:
    loss = 1.0
    for step in trial.steps(50):
        loss = trial.params["x"] + 1.0 / (step + 1)
        trial.report(loss=loss)
    if trial.params["x"] > 0.9:
        raise ValueError("too large: " + "x" * 200)
    return {"loss": loss}


def test_a_trial_record_and_a_run_result_read_as_one_short_line() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=6), storage="memory",
                     seed=0, sampler="random")  # fmt: skip
    study.enqueue({"x": 0.95})
    result = study.optimize(_objective, progress=False)
    best = study.best
    assert best is not None
    shown = repr(best)
    assert shown.startswith(f"TrialRecord(#{best.number} complete, params={best.params!r}, metrics=")
    assert shown.endswith(f"seed={best.seed}, resource=50, 50 steps reported (1 to 50), worker={best.worker!r})")
    assert len(shown) < 300, shown  # the dataclass form printed each of the 50 steps: over 1,800 characters
    failed = next(r for r in study.trials if r.state is ts.TrialState.FAILED)
    assert f"TrialRecord(#{failed.number} failed (exception: ValueError), params=" in repr(failed), repr(failed)
    said = repr(result)
    assert said.startswith("StudyResult(trials_run=6, states={'failed': 1, 'complete': 5}, stop_reason='trial budget "
                           "spent (6/6)', elapsed="), said  # fmt: skip
    assert said.endswith(f"best=#{best.number} {best.metrics!r} {best.params!r}, failures=1)"), said
    assert len(said) < 300, said


def test_tunesmith_trials_cuts_a_long_reason_to_its_head_and_says_where_it_is_whole(tmp_path: Path) -> None:
    """A scheduler's stop reason of several hundred characters made each row of `tunesmith trials` a paragraph."""
    url = f"sqlite:///{tmp_path}/long.db"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="long", seed=0)
    trial = study.ask()
    long = "stop by a rule at step 3: " + "because " * 40
    study.tell(trial, stopped=long)
    short = study.ask()
    study.tell(short, stopped="stopped by hand")
    listed = " ".join(CliRunner().invoke(cli, ["trials", "long", "--storage", url]).output.split())
    assert "stop by a rule at step 3: ..." in listed and "because because" not in listed, listed
    assert "stopped by hand" in listed
    said = f"a reason ending ': ...' is cut to its head: tunesmith show long --storage {url} N prints it whole"
    assert said in listed
    assert study.trials[trial.number].brief_reason(60) == "stop by a rule at step 3: ..."
    shown = " ".join(CliRunner().invoke(cli, ["show", "long", str(trial.number), "--storage", url]).output.split())
    assert "because " * 10 in shown + " "  # show prints it whole
