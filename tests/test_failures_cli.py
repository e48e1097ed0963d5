"""Failures shown in full and recovered after a fix; status's wall time; a run that switches executor says so."""

from __future__ import annotations

import gc
import json
import math
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tests.pg import PostgresServer
from tunesmith.budget import Budget, running_time
from tunesmith.cli import cli
from tunesmith.report import write_csv
from tunesmith.storage import Proposal, SQLStorage
from tunesmith.trial import TrialKind, TrialRecord, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def broken(trial: ts.Trial) -> float:
    return undefined_name * trial.params["x"]  # type: ignore[name-defined]  # noqa: F821


def fixed(trial: ts.Trial) -> float:
    return float(trial.params["x"])


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _study(storage: str = "memory", trials: int = 4, **kwargs: object) -> ts.Study:
    options: dict[str, object] = {"metric": "loss", "sampler": "random", "seed": 7, "name": "bugs", **kwargs}
    return ts.Study(SPACE, storage=storage, budget=ts.Budget(trials=trials), **options)  # type: ignore[arg-type]


@pytest.fixture
def failed_db(tmp_path: Path) -> str:
    """A SQLite study ``bugs`` of four trials: #0 and #2 raised NameError, #1 and #3 completed."""
    url = f"sqlite:///{tmp_path}/bugs.db"
    study = _study(url)

    def odd_ones_work(trial: ts.Trial) -> float:
        if trial.number % 2 == 0:
            return broken(trial)
        trial.report(loss=0.5)
        return fixed(trial)

    study.optimize(odd_ones_work, fail_fast=None)
    study.storage.close()
    return url


# trials --failed ---------------------------------------------------------------------------------
def test_trials_failed_lists_only_the_failed_trials_with_kind_reason_and_error(failed_db: str) -> None:
    result = invoke("trials", "bugs", "--storage", failed_db, "--failed")
    assert result.exit_code == 0, result.output
    numbers = re.findall(r"^│ +(\d+) +│", result.output, flags=re.MULTILINE)  # the first column of each row
    assert numbers == ["0", "2"], result.output
    assert result.output.count("│ exception ") == 2 and "NameError:" in result.output
    assert "2 failed trials" in result.output


def test_trials_failed_json_carries_the_kind_and_the_whole_traceback(failed_db: str) -> None:
    result = invoke("trials", "bugs", "--storage", failed_db, "--failed", "--json")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["number"] for r in rows] == [0, 2]
    assert all(r["kind"] == "exception" and r["state"] == "failed" for r in rows)
    assert all("Traceback (most recent call last)" in r["error"] and "undefined_name" in r["error"] for r in rows)


def test_trials_failed_cannot_go_with_another_state(failed_db: str) -> None:
    result = CliRunner().invoke(cli, ["trials", "--storage", failed_db, "--failed", "--state", "complete"])
    assert result.exit_code == 1 and "cannot go with --state complete" in result.output


# show -----------------------------------------------------------------------------------------------
def test_show_prints_one_trial_in_full_with_its_traceback(failed_db: str) -> None:
    result = invoke("show", "bugs", "2", "--storage", failed_db)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "bugs: trial #2" in out
    for label, value in (("state", "failed"), ("kind", "exception"), ("reason", "NameError"), ("params", "x=")):
        assert any(line.split()[:1] == [label] and value in line for line in out.splitlines()), (label, out)
    for label in ("seed", "metrics", "reports", "worker", "started", "finished", "heartbeat"):
        assert f"  {label} " in out, label
    assert "Traceback (most recent call last):" in out and "in broken" in out
    assert "NameError: name 'undefined_name' is not defined" in out.splitlines()[-1]


def test_show_counts_the_reports_of_a_trial_and_defaults_to_the_latest_study(failed_db: str) -> None:
    result = invoke("show", "1", "--storage", failed_db)
    assert result.exit_code == 0, result.output
    assert "bugs: trial #1" in result.output
    assert any(line.split()[:2] == ["reports", "1"] for line in result.output.splitlines()), result.output
    assert "Traceback" not in result.output, "a completed trial has no traceback"


def test_show_json_is_the_whole_record(failed_db: str) -> None:
    shown = json.loads(invoke("show", "bugs", "0", "--storage", failed_db, "--json").output)
    assert shown["study"] == "bugs" and shown["number"] == 0 and shown["kind"] == "exception"
    assert "undefined_name" in shown["error"] and shown["worker"] and shown["started_at"] <= shown["finished_at"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(("bugs", "9"), "has no trial #9: its trials are #0-#3"), (("bugs", "two"), "must be an integer, got 'two'")],
)
def test_show_refuses_a_trial_that_is_not_there(failed_db: str, args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(cli, ["show", *args, "--storage", failed_db])
    assert result.exit_code == 1 and message in result.output, result.output


def test_user_text_in_a_failure_is_shown_not_obeyed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/evil.db"
    study = _study(url, trials=1, name="evil[/bold]")

    def raises_markup(trial: ts.Trial) -> float:
        raise ValueError("[/] \x1b[2J cleared")

    study.optimize(raises_markup, fail_fast=None)
    study.storage.close()
    for args in (["trials", "--failed"], ["show", "0"]):
        result = invoke(*args, "--storage", url)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\\x1b[2J" in result.output


# retry_failed -------------------------------------------------------------------------------------
def test_retry_failed_requeues_each_code_failure_as_a_new_trial_with_its_parameters_and_seed() -> None:
    study = _study(trials=4)
    study.optimize(broken, fail_fast=None)
    failed = study.trials
    assert study.retry_failed() == [0, 1, 2, 3]
    study.optimize(fixed)
    retries = study.trials[4:]
    assert [r.attrs["retry_of"] for r in retries] == [0, 1, 2, 3]
    assert [(r.params, r.seed) for r in retries] == [(r.params, r.seed) for r in failed]
    assert all(r.state is TrialState.COMPLETE for r in retries) and study.best is not None


def test_a_requeued_failure_no_longer_spends_the_trial_budget_its_retry_does() -> None:
    study = _study(trials=4)
    study.optimize(broken, fail_fast=None)
    assert study.usage().trials == 4
    with pytest.raises(ts.BudgetExhausted):
        study.ask()
    study.retry_failed()
    assert study.usage().trials == 0, "the four failures are owed a rerun"
    result = study.optimize(fixed)
    assert result.trials_run == 4 and len(study.trials) == 8, "each failure ran once more, nothing beyond"
    assert study.usage().trials == 4 and result.stop_reason == "trial budget spent (4/4)"


def test_retrying_interrupted_trials_on_a_spent_budget_is_refused_with_the_budget_to_set() -> None:
    # An interrupted trial never spent the budget (a new trial replaced it): re-queued on a spent study, it was
    # reported queued and then never ran.
    study = _study(trials=2)
    trial = study.ask()
    study.tell(trial, reason="interrupted", error="the worker died", kind=ts.TrialKind.INTERRUPTED)
    study.optimize(fixed)
    assert study.usage().trials == 2 and len(study.trials) == 3
    with pytest.raises(ts.ConfigError, match=r"has 0 of 2 trials left, but retrying 1 interrupted or lost trial "
                       r"\(#0\) needs 1: it never counted towards the budget, so its retry would never run.* "
                       r"tunesmith extend bugs --trials 3"):  # fmt: skip
        study.retry_failed(kinds=[ts.TrialKind.INTERRUPTED])
    study.extend_budget(trials=3)
    assert study.retry_failed(kinds=[ts.TrialKind.INTERRUPTED]) == [0]
    study.optimize(fixed)
    assert study.trials[-1].attrs["retry_of"] == 0 and study.trials[-1].state is TrialState.COMPLETE


def test_a_failure_is_requeued_once_however_often_retry_failed_is_called() -> None:
    study = _study(trials=2)
    study.optimize(broken, fail_fast=None)
    assert study.retry_failed() == [0, 1]
    assert study.retry_failed() == [], "already queued"
    study.optimize(fixed)
    assert study.retry_failed() == [], "already retried"
    assert len(study.trials) == 4


def test_a_retry_that_fails_again_can_itself_be_requeued() -> None:
    study = _study(trials=1)
    study.optimize(broken, fail_fast=None)
    study.retry_failed()
    study.optimize(broken, fail_fast=None)
    assert study.retry_failed() == [1], "the retry's own failure, not the original a second time"
    study.optimize(fixed)
    assert study.trials[2].attrs["retry_of"] == 1 and study.trials[2].state is TrialState.COMPLETE


def test_retry_failed_leaves_failures_of_the_configuration_alone_unless_asked() -> None:
    study = _study(trials=2)

    def nan_for_small_x(trial: ts.Trial) -> float:
        if trial.number == 0:
            return math.nan
        return broken(trial)

    study.optimize(nan_for_small_x, fail_fast=None)
    assert [r.kind for r in study.trials] == [TrialKind.NON_FINITE, TrialKind.EXCEPTION]
    assert study.retry_failed() == [1]
    assert study.retry_failed(kinds=(TrialKind.NON_FINITE,)) == [0]


@pytest.mark.parametrize("kinds", [(TrialKind.GUARDRAIL,), ("exception",), ()])
def test_retry_failed_refuses_what_is_not_a_failure_kind(kinds: tuple[object, ...]) -> None:
    study = _study()
    with pytest.raises(ts.ConfigError, match=r"TrialKind\.EXCEPTION"):
        study.retry_failed(kinds=kinds)  # type: ignore[arg-type]


def test_a_retry_queued_by_one_process_is_run_by_another_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    first = _study(url, trials=3)
    first.optimize(broken, fail_fast=None)
    assert first.retry_failed() == [0, 1, 2]
    first.storage.close()
    workers = [_study(url, trials=3) for _ in range(2)]
    for worker in workers:
        worker.optimize(fixed)
    records = workers[0].trials
    assert sorted(r.attrs["retry_of"] for r in records[3:]) == [0, 1, 2] and len(records) == 6
    for worker in workers:
        worker.storage.close()


def test_the_cli_retries_the_failures_after_the_fix_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "retry_cli_bug.py").write_text("def objective(trial):\n    return undefined_name\n")
    (tmp_path / "retry_cli_fixed.py").write_text("def objective(trial):\n    return trial.params['x']\n")
    for name, module in (("bug", "retry_cli_bug"), ("fixed", "retry_cli_fixed")):
        (tmp_path / f"{name}.toml").write_text(
            f'name = "fixme"\nobjective = "{module}:objective"\nseed = 1\n[metric]\nname = "loss"\n'
            '[budget]\ntrials = 5\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
        )
    url = f"sqlite:///{tmp_path / 's.db'}"
    run = ("--storage", url, "--no-progress", "--no-report")
    assert CliRunner().invoke(cli, ["run", "bug.toml", *run]).exit_code == 1, "fail fast after three"
    retried = invoke("retry", "fixme", "--storage", url)
    assert retried.exit_code == 0 and "re-queued 3 failed trials of fixme (#0, #1, #2" in retried.output
    result = invoke("run", "fixed.toml", *run)
    assert result.exit_code == 0, result.output
    assert "trial budget spent (5/5)" in result.output
    rows = [json.loads(line) for line in invoke("trials", "fixme", "--storage", url, "--json").output.splitlines()]
    assert [r["state"] for r in rows] == ["failed"] * 3 + ["complete"] * 5
    assert [r["params"] for r in rows[3:6]] == [r["params"] for r in rows[:3]], "the retries come first"
    again = invoke("retry", "fixme", "--storage", url)
    assert "nothing re-queued" in again.output


# status: the wall time is the time trials ran ---------------------------------------------------
def _record(number: int, start: float, end: float | None, **changes: object) -> TrialRecord:
    state = TrialState.COMPLETE if end is not None else TrialState.RUNNING
    record = TrialRecord(number=number, params={}, seed=0, state=state, started_at=start, finished_at=end)
    return record.evolve(**changes)


def test_wall_time_counts_the_time_trials_ran_and_overlaps_once() -> None:
    records = [_record(0, 1000.0, 1010.0), _record(1, 1005.0, 1020.0), _record(2, 5000.0, 5009.0)]
    assert running_time(records, now=9999.0) == pytest.approx(29.0), "20 s, then 9 s a day later"
    assert Budget.usage(records, now=9999.0).elapsed == pytest.approx(29.0)


def test_a_running_trial_counts_until_now_and_a_lost_one_until_its_last_heartbeat() -> None:
    lost = _record(1, 100.0, 900.0, state=TrialState.FAILED, kind=TrialKind.LOST_WORKER, heartbeat_at=110.0)
    assert running_time([lost], now=1000.0) == pytest.approx(10.0), "found lost long after it stopped"
    assert running_time([_record(0, 100.0, None)], now=130.0) == pytest.approx(30.0)


def test_status_shows_the_time_trials_ran_not_the_time_since_the_first_started(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    study = ts.Study(SPACE, metric="loss", storage=url, name="old", budget=ts.Budget(trials=10, wall_time=600))
    propose = lambda n, h: Proposal({"x": 0.5}, n)  # noqa: E731
    now = time.time()
    for number, (start, end) in enumerate([(now - 3600, now - 3580), (now - 3590, now - 3571)]):
        study.storage.create_trial(study.info.id, propose, max_trials=None, worker="h:1", now=start)
        study.storage.finish_trial(study.info.id, number, TrialState.COMPLETE, metrics={"loss": 0.1}, reason=None,
                                   error=None, now=end)  # fmt: skip
    assert study.optimize(fixed, n_trials=1).trials_run == 1, "an hour later, the study still has wall time"
    study.storage.close()
    result = invoke("status", "old", "--storage", url)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("budget:"))
    seconds = int(line.split("wall time ")[1].split("s/")[0])
    assert 29 <= seconds <= 35 and "/600s counted while trials ran" in line, line
    assert "(30% spent)" in line, "three trials of ten, not an hour of ten minutes"


# run: workers=2 with the inline executor ---------------------------------------------------------
def test_run_says_when_workers_switch_the_inline_executor_to_processes(objectives_dir: Path, tmp_path: Path) -> None:
    config = objectives_dir / "two.toml"
    config.write_text(
        'name = "two"\nobjective = "objectives:quadratic"\nseed = 1\nworkers = 2\nexecutor = "inline"\n'
        '[metric]\nname = "loss"\n[budget]\ntrials = 2\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    result = invoke("run", str(config), "--storage", f"sqlite:///{tmp_path}/two.db", "--no-progress", "--no-report")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps at 80 columns
    assert "trials ran in child processes (executor='processes'): 2 workers need a process per trial" in said


# the suite: a study's heartbeat never outlives its storage ------------------------------------
@pytest.mark.slow
def test_closing_a_postgres_storage_while_its_study_beats_leaves_no_connection_behind(postgres: PostgresServer) -> None:
    """The cause of the order-dependent failure of test_heartbeat's ``...retried[memory]``: a beat in flight
    while a fixture closed the storage left a psycopg connection for the next ``gc.collect()`` to find.
    `SQLStorage.close` now waits for it, so no test has to wait out heartbeat threads first."""
    url = postgres.create_database("beat")
    for attempt in range(15):
        storage = SQLStorage(url)
        study = ts.Study(SPACE, metric="loss", storage=storage, name=f"beat{attempt}", heartbeat_interval=0.005,
                         grace=0.5)  # fmt: skip
        trial = study.ask()
        time.sleep(0.03)
        storage.close()  # the study still beats, every 5 ms
        del study, trial
        gc.collect()  # a connection left open here is a ResourceWarning, an error under the suite's filters


def test_a_retry_is_visible_in_status_the_failed_list_the_json_and_the_export(failed_db: str, tmp_path: Path) -> None:
    """Only `show`'s attrs linked a failure to its retry, so the exports could not be reconciled with the budget."""
    invoke("retry", "bugs", "--storage", failed_db)
    status = " ".join(invoke("status", "bugs", "--storage", failed_db).output.split())
    assert "retry queued: 2 failed trials (#0, #2) run again next" in status
    study = ts.Study.load("bugs", failed_db)
    study.optimize(fixed)  # the two retries take the places the two failures gave up
    failed = " ".join(invoke("trials", "bugs", "--storage", failed_db, "--failed").output.split())
    assert "(re-run as #4)" in failed and "(re-run as #5)" in failed
    rows = {row["number"]: row for row in map(json.loads, invoke("trials", "bugs", "--storage", failed_db,
                                                                  "--json").output.splitlines())}  # fmt: skip
    assert rows[4]["retry_of"] == 0 and rows[5]["retry_of"] == 2
    assert rows[0]["counts_toward_budget"] is False and rows[4]["counts_toward_budget"] is True
    assert sum(row["counts_toward_budget"] for row in rows.values()) == study.usage().trials == 4
    exported = tmp_path / "trials.csv"
    write_csv(study, exported)
    text = exported.read_text()
    assert "retry_of,counts_toward_budget" in text.splitlines()[0]
