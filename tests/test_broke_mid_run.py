"""Something that breaks during a run, after trials worked (a data set gone bad, a cache directory deleted, a driver
that crashes every process), fails every later trial: the study stops about fourteen trials after the break, with
`ObjectiveError`, whatever the kind of failure and whatever per-trial numbers or paths its message quotes. A region
of the space that fails at a steady rate goes on."""

from __future__ import annotations

import math
import os
import re
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
BREAK = 5  # trials #0-#4 work, every later one fails
# Five trials worked: were the failures spread at random, fourteen in a row at the end hold them all with a chance
# of 1 / C(19, 5) = 9e-05, below 1e-4 (thirteen: 1.1e-04), so the study stops at its nineteenth trial.
STOPPED_AT = 19


def _study(sampler: str = "random", trials: int = 60, seed: int = 0) -> ts.Study:
    return ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage="memory", seed=seed,
                    sampler=sampler)  # fmt: skip


def nan_after_break(trial: ts.Trial) -> dict[str, float]:
    return {"loss": math.nan if trial.number >= BREAK else trial.params["x"]}


def missing_file_after_break(trial: ts.Trial) -> float:
    if trial.number >= BREAK:
        raise FileNotFoundError(f"No such file or directory: 'cache/batch_{trial.number}.npy'")
    return trial.params["x"]


def segfault_after_break(trial: ts.Trial) -> float:
    if trial.number >= BREAK:
        os.kill(os.getpid(), signal.SIGSEGV)
    return trial.params["x"]


def test_a_nan_result_in_every_trial_after_some_worked_stops_the_study() -> None:
    study = _study()
    with pytest.raises(ObjectiveError, match=r"the last 14 trials \(#5-#18\) failed the same way after earlier trials "
                                             r"worked: loss is nan \(14 non_finite; .*chance of 9e-05"):  # fmt: skip
        study.optimize(nan_after_break)
    assert len(study.trials) == STOPPED_AT


def test_a_missing_file_named_per_trial_after_some_worked_stops_the_study_quoting_the_first_and_last() -> None:
    study = _study()
    expected = (r"failed the same way after earlier trials worked: FileNotFoundError: No such file or directory: "
                r"'cache/batch_5.npy' \(14 exception; the last: FileNotFoundError: No such file or directory: "
                r"'cache/batch_18.npy'; it failed 0 of the 5 trials before them")  # fmt: skip
    with pytest.raises(ObjectiveError, match=expected):
        study.optimize(missing_file_after_break)
    assert len(study.trials) == STOPPED_AT


def test_a_segfault_in_every_trial_process_after_some_worked_stops_the_study() -> None:
    study = _study()
    with pytest.raises(ObjectiveError) as stopped:
        study.optimize(segfault_after_break, executor="processes")
    # How each trial from the break on was recorded, first: a trial recorded otherwise is what a wrong message comes
    # from (a crash of another way starts the streak again), and a failure says which one it was and how.
    ended = [(r.number, r.state.value, r.kind and r.kind.value, r.reason) for r in study.trials[BREAK:]]
    odd = [trial for trial in ended if trial[1:] != ("failed", "crash", "killed by SIGSEGV")]
    errors = {r.number: (r.error or "")[:300] for r in study.trials[BREAK:]}
    assert not odd, f"recorded otherwise than a SIGSEGV crash: {odd}; their errors: {[errors[t[0]] for t in odd]}"
    assert len(study.trials) == STOPPED_AT
    said = r"failed the same way after earlier trials worked: killed by SIGSEGV \(14 crash;"
    assert re.search(said, str(stopped.value)), stopped.value


def test_failures_of_different_kinds_in_a_row_after_some_worked_stop_the_study_as_failures_of_any_kind() -> None:
    def alternating(trial: ts.Trial) -> float:
        if trial.number < BREAK:
            return trial.params["x"]
        if trial.number % 2:
            raise ConnectionError("the feature store refused the connection")
        return math.inf

    study = _study()
    with pytest.raises(ObjectiveError, match=r"the last 14 trials \(#5-#18\) all failed after earlier trials worked "
                                             r"\(7 exception, 7 non_finite; the first: ConnectionError: the feature "
                                             r"store refused the connection; the last: loss is inf; 0 of the 5 trials "
                                             r"before them failed: .*chance of 9e-05"):  # fmt: skip
        study.optimize(alternating)
    assert len(study.trials) == STOPPED_AT


def test_a_break_beside_a_region_failing_on_purpose_is_judged_against_its_own_failures() -> None:
    """A region (x above 0.7) raises at a steady rate, then the data goes: every failure counted, the streak at the
    end would need to be longer; counted against the failures that say what it says, it stops after ten."""

    def region_then_break(trial: ts.Trial) -> float:
        if trial.number >= 20:
            raise FileNotFoundError(f"No such file or directory: '/data/shard-{trial.number}.parquet'")
        if trial.params["x"] > 0.7:
            raise ValueError(f"x={trial.params['x']:.3f} does not fit in memory")
        return trial.params["x"]

    study = _study()
    with pytest.raises(ObjectiveError, match=r"the last 10 trials \(#20-#29\) failed the same way after earlier "
                                             r"trials worked: FileNotFoundError"):  # fmt: skip
        study.optimize(region_then_break)
    assert sum(r.params["x"] > 0.7 for r in study.trials[:20]) >= 3, "the premise: the region failed before the break"


def test_the_cli_exits_non_zero_when_every_trial_fails_after_some_worked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broke.py").write_text(
        "def objective(trial):\n"
        f"    if trial.number >= {BREAK}:\n"
        "        raise FileNotFoundError(f\"No such file or directory: 'cache/batch_{trial.number}.npy'\")\n"
        "    return trial.params['x']\n"
    )
    (tmp_path / "study.toml").write_text(
        'name = "broke"\nobjective = "broke:objective"\nseed = 0\nsampler = "random"\n[metric]\nname = "loss"\n'
        '[budget]\ntrials = 60\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    result = CliRunner().invoke(cli, ["run", "study.toml", "--storage", f"sqlite:///{tmp_path / 's.db'}",
                                      "--no-progress", "--no-report"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "the last 14 trials (#5-#18) failed the same way after earlier trials worked" in result.output
    assert len(ts.Study.load("broke", storage=f"sqlite:///{tmp_path / 's.db'}").trials) == STOPPED_AT


def test_failures_whose_messages_differ_only_in_numbers_stop_the_study_at_the_third() -> None:
    def misshaped(trial: ts.Trial) -> float:
        batch = 16 * (trial.number + 1)
        raise ValueError(f"shapes ({batch}x100) and (50x10) not aligned: 100 (dim 1) != 50 (dim 0)")

    study = _study()
    with pytest.raises(ObjectiveError, match=r"the first 3 trials \(#0, #1, #2\) failed the same way and none "
                                             r"worked: ValueError: shapes \(16x100\) and \(50x10\) not aligned: .*; "
                                             r"the last: ValueError: shapes \(48x100\)"):  # fmt: skip
        study.optimize(misshaped)
    assert len(study.trials) == 3


def test_failures_whose_messages_differ_only_in_a_quoted_path_stop_the_study_at_the_third() -> None:
    def missing_run_directory(trial: ts.Trial) -> float:
        run = "abcdefgh"[trial.number % 8] * 6  # a temporary directory's name: letters, not numbers
        raise FileNotFoundError(f"No such file or directory: '/tmp/tmp{run}/model/config.json'")

    study = _study()
    with pytest.raises(ObjectiveError, match=r"the first 3 trials .* failed the same way and none worked: "
                                             r"FileNotFoundError: .*'/tmp/tmpaaaaaa/model/config.json'; the last: "
                                             r"FileNotFoundError: .*'/tmp/tmpcccccc/model/config.json'"):  # fmt: skip
        study.optimize(missing_run_directory)
    assert len(study.trials) == 3


def test_a_region_failing_at_a_steady_rate_does_not_stop_the_study_even_after_ten_failures_in_a_row() -> None:
    """Seven tenths of the space need more memory than there is, each message quoting its configuration: drawn at
    random, they fail all run long, thirteen in a row once, but never all at the end."""

    def too_large(trial: ts.Trial) -> float:
        x = trial.params["x"]
        if x > 0.3:
            raise MemoryError(f"x={x:.4f} needs {int(x * 4096)} MiB")
        return (x - 0.28) ** 2

    study = _study("random", trials=60, seed=4)
    result = study.optimize(too_large)
    assert result.trials_run == 60 and result.best is not None
    failed = "".join("F" if r.state is ts.TrialState.FAILED else "." for r in study.trials)
    assert max(len(streak) for streak in failed.split(".")) >= 10, f"the premise: a long streak in {failed}"
