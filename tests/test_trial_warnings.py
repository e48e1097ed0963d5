"""The warnings an objective raises: each kind shown once a run, every trial's kept on it, and explained.

A search runs the same code in every trial, so a library's warning came once per trial: `tunesmith run` of a
30-trial logistic regression printed 24 scikit-learn ConvergenceWarnings, 190 lines above the summary, and nothing
recorded which trials had not converged. Now the first of each kind is shown, the rest are counted on their trials
(``attrs["warnings"]``), the run's notes sum them, `tunesmith show` lists a trial's, and the diagnosis says which
parameter explains the trials that warned, with its permutation test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith import _trial_warnings as trial_warnings
from tunesmith.analysis import diagnose
from tunesmith.analysis.diagnose import Warned


class FitWarning(UserWarning):
    """What a library says of a model that did not converge."""


class OtherWarning(UserWarning):
    pass


def _warns_above(threshold: float, category: type[Warning] = FitWarning) -> Callable[[ts.Trial], float]:
    def objective(trial: ts.Trial) -> float:
        x = trial.params["x"]
        for attempt in range(2 if x > threshold else 0):  # one line, twice a trial, its text differing each time
            warnings.warn(f"no convergence at x={x:.4f} (attempt {attempt})", category, stacklevel=1)
        return (x - 0.3) ** 2

    return objective


def _study(**options: object) -> ts.Study:
    space = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0)})
    return ts.Study(space, metric="loss", sampler="random", seed=0, storage="memory",
                    budget=ts.Budget(trials=40), **options)  # fmt: skip


def test_each_kind_is_shown_once_and_every_trial_keeps_its_own() -> None:
    study = _study()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        result = study.optimize(_warns_above(0.6))
    fits = [w for w in shown if issubclass(w.category, FitWarning)]
    assert len(fits) == 1, [str(w.message) for w in fits]  # the first; the other 2 x N - 1 were counted
    warned = [r for r in study.trials if r.params["x"] > 0.6]
    assert 8 <= len(warned) <= 24
    for record in study.trials:
        found = trial_warnings.recorded(record.attrs)
        if record.params["x"] <= 0.6:
            assert found == ()
            continue
        (one,) = found
        assert one.category == "FitWarning"
        assert one.where.endswith(f"tests/test_trial_warnings.py:{_line_of('warnings.warn(f')}")
        assert one.count == 2
        assert one.message == f"no convergence at x={record.params['x']:.4f} (attempt 0)"
    note = next(n for n in result.notes if n.startswith("the objective warned"))
    first = min(r.number for r in warned)
    assert "FitWarning at tests/test_trial_warnings.py:" in note
    assert f"in {len(warned)} of 40 trials (first #{first}: no convergence at x=" in note
    assert "are kept in its attrs['warnings'], and the diagnosis" in note  # a study in memory: no command reads it


def test_the_diagnosis_says_which_parameter_explains_the_trials_that_warned() -> None:
    study = _study()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("default")
        warnings.simplefilter("ignore", FitWarning)  # the user's filter: an ignored warning is not seen, nor kept
        study.optimize(_warns_above(0.6, OtherWarning), n_trials=20)
        study.optimize(_warns_above(0.6, FitWarning), n_trials=20)
    found = diagnose(study.trials, study.space, study.metric)
    (attribution,) = found.attributions
    assert attribution.signature == Warned("OtherWarning", attribution.signature.where)
    assert attribution.rule.param == "x" and attribution.rule.op == ">"
    assert 0.55 <= attribution.rule.value <= 0.6
    assert attribution.p_value is not None and attribution.p_value <= 0.05
    assert attribution.matched == attribution.total  # every trial that raised it has x > 0.6
    assert attribution.covered == sum(1 for r in study.trials if r.params["x"] > attribution.rule.value)  # ignored too
    lines = found.lines()
    warned = sum(1 for r in study.trials if trial_warnings.recorded(r.attrs))
    assert lines[0].endswith(f"; {warned} warned")
    said = f"{warned} of {warned} trials that warned (OtherWarning at tests/test_trial_warnings.py:"
    assert lines[1].startswith(said)
    assert len(lines) == 2  # a rule, no narrowing: the trials that warned gave results, and may be the best
    assert found.to_json()["attributions"][0]["signature"].startswith("warned (OtherWarning at ")


def test_a_warning_all_trials_raise_is_not_blamed_on_a_parameter() -> None:
    study = _study()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("default")
        study.optimize(_warns_above(-1.0), n_trials=20)
    found = diagnose(study.trials, study.space, study.metric)
    assert found.attributions == ()
    assert found.lines() == ["no learning curves of 'loss' to diagnose: report it at each step with trial.report()"]


def test_a_warning_the_filters_make_an_error_still_fails_the_trial() -> None:
    study = _study()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        study.optimize(_warns_above(0.6), n_trials=6, fail_fast=None)
    failed = [r for r in study.trials if r.state is ts.TrialState.FAILED]
    assert failed and all(r.params["x"] > 0.6 for r in failed)
    assert all("FitWarning" in (r.error or "") for r in failed)
    assert all(trial_warnings.recorded(r.attrs) == () for r in study.trials)


def test_two_studies_in_two_threads_keep_their_own_and_give_the_hook_back() -> None:
    before = warnings.showwarning
    studies = [_study(), _study()]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(study: ts.Study, category: type[Warning]) -> None:
        try:
            start.wait()
            study.optimize(_warns_above(0.3, category), n_trials=15)
        except Exception as exc:  # noqa: BLE001 - any error of the thread's run fails the test below
            errors.append(exc)

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("default")
        pairs = zip(studies, (FitWarning, OtherWarning), strict=True)
        threads = [threading.Thread(target=run, args=pair) for pair in pairs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        hooked = warnings.showwarning
    assert hooked is not trial_warnings._hook  # given back once no trial runs
    assert warnings.showwarning is before
    for study, category in zip(studies, ("FitWarning", "OtherWarning"), strict=True):
        kinds = {w.category for r in study.trials for w in trial_warnings.recorded(r.attrs)}
        assert kinds == {category}


def test_merged_runs_of_a_paused_trial_sum_their_counts() -> None:
    first = trial_warnings.TrialWarning("FitWarning", "a.py:1", "at rung 1", 2)
    later = [trial_warnings.TrialWarning("FitWarning", "a.py:1", "at rung 3", 3),
             trial_warnings.TrialWarning("OtherWarning", "b.py:9", "new")]  # fmt: skip
    assert trial_warnings.merged([first], later) == [
        trial_warnings.TrialWarning("FitWarning", "a.py:1", "at rung 1", 5),
        trial_warnings.TrialWarning("OtherWarning", "b.py:9", "new", 1),
    ]


OBJECTIVE = """
import warnings


class FitWarning(UserWarning):
    pass


def objective(trial):
    x = trial.params["x"]
    if x > 0.5:
        warnings.warn(f"lbfgs failed to converge at x={x:.4f}\\nIncrease the number of iterations.", FitWarning)
    return (x - 0.3) ** 2
"""

CONFIG = """
name = "warned"
objective = "{module}:objective"
storage = "sqlite:///warned.db"
seed = 0
sampler = "random"
workers = {workers}
[metric]
name = "loss"
[budget]
trials = 24
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_tunesmith_run_shows_a_kind_once_per_worker_and_show_lists_a_trials(tmp_path: Path, workers: int) -> None:
    module = f"warned_objective_{workers}"
    line = next(i for i, text in enumerate(textwrap.dedent(OBJECTIVE).splitlines(), 1) if "warnings.warn(" in text)
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(OBJECTIVE))
    (tmp_path / "warned.toml").write_text(textwrap.dedent(CONFIG.format(module=module, workers=workers)))
    done = _tunesmith(tmp_path, "run", "warned.toml", "--no-progress", "--no-report")
    shown = done.stderr.count("warning (FitWarning): lbfgs failed to converge")
    assert 1 <= shown <= workers, done.stderr  # a trial process started before the first came back may show its own
    assert "Increase the number of iterations." in done.stderr  # the first is shown whole
    study = ts.Study.load("warned", storage=f"sqlite:///{tmp_path / 'warned.db'}")
    warned = sorted(r.number for r in study.trials if trial_warnings.recorded(r.attrs))
    assert warned == sorted(r.number for r in study.trials if r.params["x"] > 0.5)
    kind = f"FitWarning at {module}.py:{line}"
    assert f"the objective warned: {kind} in {len(warned)} of 24 trials (first #{warned[0]}: lbfgs failed to " \
           "converge at x=" in done.stdout  # fmt: skip
    assert f"trials that warned ({kind}) have x > 0." in done.stdout
    assert f"are kept in its attrs['warnings'] (tunesmith show warned --storage sqlite:///warned.db {warned[0]})," \
           in done.stdout  # fmt: skip
    # status says it again from storage, long after the run's notes scrolled away, in text and JSON alike
    said = f"the objective warned: {kind} in {len(warned)} of 24 trials (first #{warned[0]}: lbfgs failed to converge"
    assert said in _tunesmith(tmp_path, "status", "warned", "--storage", "sqlite:///warned.db").stdout
    status = json.loads(_tunesmith(tmp_path, "status", "warned", "--storage", "sqlite:///warned.db", "--json").stdout)
    assert status["warned"].startswith(said)
    shows = _tunesmith(tmp_path, "show", "warned", str(warned[0]), "--storage", "sqlite:///warned.db")
    x = study.trials[warned[0]].params["x"]
    assert f"  warned     {kind}, once: lbfgs failed to converge at x={x:.4f}\n" in shows.stdout


def _tunesmith(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TUNESMITH_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [".", environment.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "tunesmith", *args], cwd=folder, capture_output=True, text=True,
                          timeout=300, env={**environment, "COLUMNS": "400"})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _line_of(text: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_the_seed_re_runs_show_each_kind_once() -> None:
    """`validate_top` re-runs the top configurations on fresh seeds: 3 candidates x 3 seeds printed 9 warnings, then
    the winner's confirmation runs as many again."""
    study = _study()
    objective = _warns_above(-1.0)  # every run warns
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        study.optimize(objective, n_trials=8)
        searched = len(shown)
        ts.validate_top(study, objective, k=3, seeds=3)
    assert searched == 1
    re_runs = [w for w in shown[searched:] if issubclass(w.category, FitWarning)]
    assert 1 <= len(re_runs) <= 2, [str(w.message) for w in re_runs]  # once for the candidates, once confirming


def test_the_scikit_learn_search_shows_each_kind_once_and_keeps_each_trials() -> None:
    """`TunesmithSearchCV` fits through scikit-learn's own loop: 12 configurations of a logistic regression x 3 folds
    printed 36 ConvergenceWarnings."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from tunesmith.integrations.sklearn import TunesmithSearchCV

    features, labels = load_breast_cancer(return_X_y=True)
    search = TunesmithSearchCV(LogisticRegression(max_iter=20), {"C": ts.Float(1e-3, 1e2, log=True)}, n_trials=12,
                               cv=3, random_state=0)  # fmt: skip
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        search.fit(features, labels)
    # The search's one kind, and the refit on the whole data after it (a fit of its own, outside the search).
    assert 1 <= sum(issubclass(w.category, ConvergenceWarning) for w in shown) <= 2
    kept = [trial_warnings.recorded(r.attrs) for r in search.trials_]
    assert all(len(found) == 1 and found[0].category == "ConvergenceWarning" for found in kept)
    assert all(found[0].count == 3 for found in kept)  # one per fold
