"""The budget: which trials spend it, and which limit ran out."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.budget import Budget, BudgetUsage, counts_toward_budget, seconds_of
from tunesmith.errors import BudgetExhausted
from tunesmith.trial import TrialKind, TrialRecord, TrialState


def _failed(kind: TrialKind | None, reason: str | None = None) -> TrialRecord:
    return TrialRecord(number=0, params={}, seed=0, state=TrialState.FAILED, reason=reason, kind=kind)


@pytest.mark.parametrize("kind", [TrialKind.INTERRUPTED, TrialKind.LOST_WORKER])
def test_a_trial_lost_with_its_worker_does_not_spend_the_trial_budget(kind: TrialKind) -> None:
    assert not counts_toward_budget(_failed(kind))


@pytest.mark.parametrize("kind", [k for k in TrialKind if not k.is_interruption])
def test_every_other_failure_spends_the_trial_budget(kind: TrialKind) -> None:
    assert counts_toward_budget(_failed(kind))


def test_the_budget_reads_the_kind_never_the_reason() -> None:
    assert counts_toward_budget(_failed(None, reason="interrupted")), "a reason alone is text for people"
    assert not counts_toward_budget(_failed(TrialKind.LOST_WORKER, reason="anything at all"))


def test_only_a_failed_trial_can_be_an_interruption() -> None:
    stopped = TrialRecord(number=0, params={}, seed=0, state=TrialState.STOPPED, kind=TrialKind.INTERRUPTED)
    assert counts_toward_budget(stopped)


def test_usage_counts_trials_without_the_lost_ones() -> None:
    records = [_failed(TrialKind.EXCEPTION), _failed(TrialKind.LOST_WORKER), _failed(TrialKind.INTERRUPTED)]
    assert Budget.usage(records, now=0.0).trials == 1


@pytest.mark.parametrize(
    ("usage", "limit", "sentence"),
    [
        (BudgetUsage(trials=3, resource=100.0, elapsed=100.0), "trials", "trial budget spent (3/3)"),
        (BudgetUsage(trials=2, resource=100.0, elapsed=60.0), "wall_time", "wall-time budget spent (60s/60s)"),
        (BudgetUsage(trials=2, resource=10.0, elapsed=1.0), "resource", "resource budget spent (10/10)"),
        (BudgetUsage(trials=2, resource=9.0, elapsed=59.0), None, None),
    ],
)
def test_the_first_limit_reached_is_named_and_described(
    usage: BudgetUsage, limit: str | None, sentence: str | None
) -> None:
    budget = Budget(trials=3, wall_time=60, resource=10)
    assert budget.exhausted_limit(usage) == limit
    assert budget.exhausted_by(usage) == sentence


def test_budget_exhausted_carries_the_limit() -> None:
    error = BudgetExhausted("wall-time budget spent (60s/60s)", limit="wall_time")
    assert error.limit == "wall_time" and str(error) == "wall-time budget spent (60s/60s)"
    assert BudgetExhausted("trial budget spent (3/3)").limit == "trials"


def test_the_wait_of_a_paused_trial_before_its_resumption_is_not_running_time() -> None:
    from tunesmith.budget import running_time

    resumed = TrialRecord(0, {}, 0, TrialState.COMPLETE, started_at=100.0, finished_at=200.0,
                          attrs={"paused": [[110.0, 190.0]]})  # fmt: skip
    assert resumed.duration == pytest.approx(20.0)
    assert running_time([resumed], now=300.0) == pytest.approx(20.0)
    beside = TrialRecord(1, {}, 1, TrialState.COMPLETE, started_at=150.0, finished_at=160.0)
    assert running_time([resumed, beside], now=300.0) == pytest.approx(30.0), "another trial ran in the gap"


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_time_between_two_runs_is_not_charged_to_the_wall_time_budget_of_a_pausing_study(
    storage: str, tmp_path: Path
) -> None:
    """ASHA's promote mode leaves trials paused between runs: the wait until the next run resumed one was
    charged as running time, and the next run stopped at once on the wall-time budget ('25s/20s')."""
    import time

    import tunesmith as ts

    url = "memory" if storage == "memory" else f"sqlite:///{tmp_path}/wait.db"

    def curve(trial: ts.Trial) -> dict[str, float]:
        value = 1.0
        for step in trial.steps(9):
            value = trial.params["x"] + 1.0 / (step + 1)
            trial.report(loss=value)
            trial.save_checkpoint({"step": step})  # the curve's state is its step: a promotion resumes from it
        return {"loss": value}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", sampler="random", seed=0, storage=url,
                     scheduler=ts.ASHA(1, 9, 3, mode="promote"),
                     budget=ts.Budget(wall_time=1.5, trials=12))  # fmt: skip
    with pytest.warns(UserWarning):
        study.optimize(curve, n_trials=3)
    time.sleep(2.0)
    result = study.optimize(curve)
    assert result.stop_reason.startswith("trial budget spent"), result.stop_reason
    assert study.usage().elapsed < 1.5
    resumed = [r for r in study.trials if r.paused]
    assert resumed and all((r.duration or 0.0) < 1.0 for r in resumed)


def test_a_wall_time_budget_overrun_by_a_trial_that_never_reports_says_why_and_the_two_fixes() -> None:
    """Before, the run ended at '2s/0s' with nothing saying that the budget can stop a trial only at a report."""
    import time

    import tunesmith as ts

    def silent(trial: ts.Trial) -> float:
        time.sleep(1.6)
        return float(trial.params["x"])

    def reporting(trial: ts.Trial) -> float:
        for step in range(1, 1000):
            time.sleep(0.05)
            trial.report(step, value=float(trial.params["x"]) / step)
            if trial.should_stop:
                break
        return float(trial.params["x"])

    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    overrun = ts.Study(space, storage="memory", seed=0, budget=ts.Budget(wall_time=0.3)).optimize(silent)
    note = next(n for n in overrun.notes if "wall-time budget" in n)
    assert re.search(r"ran to 1\.\ds/0\.3s", note) and "(#0 reported none)" in note
    assert overrun.stop_reason.endswith(f"({note.split('ran to ')[1].split(':')[0]})"), (overrun.stop_reason, note)
    assert "trial.report" in note and "trial_timeout=" in note
    stopped = ts.Study(space, storage="memory", seed=0, budget=ts.Budget(wall_time=0.3)).optimize(reporting)
    assert stopped.usage.elapsed < 1.0 and not [n for n in stopped.notes if "wall-time budget" in n]


def test_a_spent_resource_budget_ends_the_trials_paused_at_their_rungs_instead_of_leaving_them_waiting() -> None:
    """ASHA in promote mode under a resource budget left 6-7 trials PAUSED for ever, and the warning said the next
    optimize() would resume them; it ran nothing."""
    import tunesmith as ts

    def objective(trial: ts.Trial) -> dict[str, float]:
        x, value = trial.params["x"], 0.0
        for step in trial.steps(9):
            value = (x - 1) ** 2 + 5.0 / (step + 1)
            trial.report(loss=value)
            trial.save_checkpoint({"step": step})  # the curve's state is its step: a promotion resumes from it
        return {"loss": value}

    study = ts.Study(ts.Space({"x": ts.Float(-2.0, 2.0)}), metric="loss", storage="memory", seed=0,
                     scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3, mode="promote"),
                     budget=ts.Budget(trials=50, resource=20))  # fmt: skip
    result = study.optimize(objective)
    assert result.stop_reason.startswith("resource budget spent"), result.stop_reason
    assert not [note for note in result.notes if "paused" in note], result.notes
    # Retired where they paused: kind BUDGET when a promotion was still to come, else SCHEDULER (its rung outranked it).
    cut = [r for r in study.trials if "while it waited at its rung for a promotion" in (r.reason or "")]
    outranked = [r for r in study.trials if (r.reason or "").startswith("not promoted: ranked")]
    assert len(cut) + len(outranked) >= 3
    assert all(r.state is TrialState.STOPPED and r.kind is TrialKind.BUDGET for r in cut)
    assert all(r.state is TrialState.STOPPED and r.kind is TrialKind.SCHEDULER for r in outranked)
    assert not [r for r in study.trials if r.state is TrialState.PAUSED]


def test_a_running_trial_whose_worker_is_gone_stops_spending_wall_time_at_its_last_heartbeat() -> None:
    """`status` and the dashboard showed the wall-time budget burning after the driver was killed: nothing ran."""
    running = TrialRecord(number=0, params={}, seed=0, state=TrialState.RUNNING, started_at=0.0, heartbeat_at=5.0)
    assert Budget.usage([running], now=20.0).elapsed == 20.0  # its worker may be alive: it runs until now
    assert Budget.usage([running], now=20.0, gone={0}).elapsed == 5.0


def _sleeps_its_turn(trial: ts.Trial) -> float:
    time.sleep(1.0 + 2.0 * (trial.number % 2))  # the second trial runs on well past the first
    return float(trial.params["x"])


def test_a_run_whose_running_trials_pass_the_wall_time_budget_gives_one_figure_for_the_time_it_spent(
    tmp_path: Path,
) -> None:
    """The budget is found spent when the first trial ends and the next is asked for; the second ran on. The stop
    reason gave the time when it was found spent ("(8s/6s)", a 5.5 s budget rounded to 6), and the overrun note
    beside it the time the run spent ("ran to 14s")."""
    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    study = ts.Study(
        space, storage=f"sqlite:///{tmp_path / 'w.db'}", seed=0, budget=ts.Budget(wall_time=0.5, trials=10)
    )
    result = study.optimize(_sleeps_its_turn, workers=2, executor="processes")
    spent = re.fullmatch(r"wall-time budget spent \((\d+\.\d)s/0\.5s\)", result.stop_reason)
    assert spent, result.stop_reason
    assert float(spent.group(1)) >= 3.0, result.stop_reason  # the second trial's 3 s, not the first's 1
    note = next(n for n in result.notes if "wall-time budget ran to" in n)
    assert f"ran to {spent.group(1)}s/0.5s" in note, note


def test_seconds_short_of_a_whole_limit_are_not_rounded_up_to_it() -> None:
    # "5s/5s" read as spent with 0.4 s left; whole seconds otherwise, and tenths of a limit given in tenths.
    assert seconds_of(4.6, 5) == "4.6s/5s"
    assert seconds_of(7199.7, 7200) == "7199.7s/7200s"
    assert seconds_of(5.0, 5) == "5s/5s" and seconds_of(6.2, 5) == "6s/5s" and seconds_of(12.3, 60) == "12s/60s"
    assert seconds_of(4.2, 5.5) == "4.2s/5.5s"
