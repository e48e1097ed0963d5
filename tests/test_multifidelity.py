"""Multi-fidelity scheduling: rung arithmetic, decisions on hand-built histories, pausing and
promotion, PBT's exploit/explore with checkpoint hand-off, divergence, the simulated clock."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.executors import SimulatedExecutor
from tunesmith.objective import Metric
from tunesmith.samplers.base import SearchContext
from tunesmith.schedulers import ASHA, PB2, PBT, Hyperband, MedianStop, SuccessiveHalving, make_scheduler
from tunesmith.schedulers.successive_halving import crossed_level, rung_levels
from tunesmith.testing.schedulers import SCHEDULER_CHECKS
from tunesmith.trial import TrialKind, TrialRecord, TrialState

CONTEXT = SearchContext(metric=Metric("loss", "min"))


def record(number: int, curve: dict[int, float], state: TrialState = TrialState.RUNNING,
           reason: str | None = None) -> TrialRecord:  # fmt: skip
    return TrialRecord(
        number=number,
        params={"x": number},
        seed=number,
        state=state,
        intermediate={step: {"loss": value} for step, value in curve.items()},
        resource=float(max(curve)) if curve else 0.0,
        reason=reason,
    )


# Conformance -------------------------------------------------------------------------------------

FACTORIES = {
    "asha": lambda: ASHA(1, 9, 3),
    "asha-promote": lambda: ASHA(1, 9, 3, mode="promote"),
    "successive_halving": lambda: SuccessiveHalving(1, 9, 3),
    "hyperband": lambda: Hyperband(1, 9, 3),
    "median": lambda: MedianStop(warmup_steps=2, min_trials=3),
    "pbt": lambda: PBT(perturbation_interval=3),
    "pb2": lambda: PB2(perturbation_interval=3),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("check", SCHEDULER_CHECKS, ids=lambda c: c.__name__)
def test_scheduler_conformance(name: str, check: object) -> None:
    check(FACTORIES[name])  # type: ignore[operator]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_schedulers_rebuild_from_their_description(name: str) -> None:
    scheduler = FACTORIES[name]()
    assert make_scheduler(scheduler.describe()).describe() == scheduler.describe()


# Rung arithmetic ---------------------------------------------------------------------------------


def test_rung_levels_grow_by_eta_below_max() -> None:
    assert rung_levels(1, 27, 3) == [1, 3, 9]
    assert rung_levels(1, 100, 2) == [1, 2, 4, 8, 16, 32, 64]
    assert rung_levels(5, 50, 3) == [5, 15, 45]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_resource": 0}, "min_resource must be > 0"),
        ({"min_resource": 10, "max_resource": 5}, "max_resource must exceed min_resource"),
        ({"eta": 1}, "eta must be >= 2"),
        ({"mode": "pause"}, "mode must be 'stop' or 'promote'"),
    ],
)
def test_asha_validates_its_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ts.ConfigError, match=message):
        ASHA(**kwargs)


def test_a_rung_is_crossed_once_even_when_reports_skip_it() -> None:
    levels = [1, 3, 9]
    assert crossed_level(record(0, {1: 1.0}), levels) == 1
    assert crossed_level(record(0, {1: 1.0, 2: 1.0}), levels) is None
    assert crossed_level(record(0, {2: 1.0, 4: 1.0}), levels) == 3  # reported at 2 then 4: rung 3 crossed
    assert crossed_level(record(0, {1: 1.0, 10: 1.0}), levels) == 9


# Decisions on hand-built histories -----------------------------------------------------------------


def test_asha_stops_a_trial_outside_the_top_third_at_a_rung() -> None:
    peers = [record(n, {1: v}, TrialState.STOPPED) for n, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])]
    good = record(5, {1: 0.05})
    bad = record(6, {1: 0.45})
    asha = ASHA(1, 9, 3)
    assert asha.decide(good, [*peers, good], CONTEXT) is Decision.CONTINUE
    assert asha.decide(bad, [*peers, bad], CONTEXT) is Decision.STOP


def test_asha_with_few_peers_still_stops_a_bad_trial() -> None:
    """The failure of other tools: a bad trial runs on because fewer than eta peers reached its rung."""
    first = record(0, {1: 0.1, 2: 0.1, 3: 0.1}, TrialState.COMPLETE)
    bad = record(1, {1: 5.0})
    assert ASHA(1, 9, 3).decide(bad, [first, bad], CONTEXT) is Decision.STOP
    good = record(1, {1: 0.01})
    assert ASHA(1, 9, 3).decide(good, [first, good], CONTEXT) is Decision.CONTINUE


def test_asha_compares_at_the_rung_not_at_later_steps() -> None:
    # Peer 0 was excellent at rung 3 but got worse later; it is judged at 3.
    peer = record(0, {1: 1.0, 3: 0.1, 9: 5.0}, TrialState.COMPLETE)
    trial = record(1, {1: 1.0, 3: 0.2})
    assert ASHA(1, 27, 3).decide(trial, [peer, trial], CONTEXT) is Decision.STOP


def test_asha_respects_a_maximised_metric() -> None:
    context = SearchContext(metric=Metric("acc", "max"))
    peers = [TrialRecord(n, {}, n, TrialState.STOPPED, intermediate={1: {"acc": a}}, resource=1.0)
             for n, a in enumerate([0.5, 0.6, 0.7])]  # fmt: skip
    best = TrialRecord(3, {}, 3, intermediate={1: {"acc": 0.9}}, resource=1.0)
    assert ASHA(1, 9, 3).decide(best, [*peers, best], context) is Decision.CONTINUE


def test_asha_promote_mode_pauses_at_every_rung_and_promotes_the_top() -> None:
    asha = ASHA(1, 9, 3, mode="promote")
    trial = record(0, {1: 0.5})
    assert asha.decide(trial, [trial], CONTEXT) is Decision.PAUSE
    paused = [record(n, {1: v}, TrialState.PAUSED) for n, v in enumerate([0.3, 0.1, 0.5, 0.4, 0.2, 0.6])]
    assert asha.promote(paused, CONTEXT, final=False).resume == 1
    two_paused = paused[:2]
    assert asha.promote(two_paused, CONTEXT, final=False).resume is None, "fewer than eta: wait for peers"
    final = asha.promote(two_paused, CONTEXT, final=True)
    assert final.resume == 1


def test_asha_promote_final_retires_what_cannot_be_promoted() -> None:
    asha = ASHA(1, 9, 3, mode="promote")
    history = [record(0, {1: 0.1, 3: 0.1}, TrialState.RUNNING), record(1, {1: 0.9}, TrialState.PAUSED),
               record(2, {1: 0.8}, TrialState.PAUSED)]  # fmt: skip
    promotion = asha.promote(history, CONTEXT, final=True)
    assert promotion.resume is None and set(promotion.retire) == {1, 2}


def test_trials_left_unpromoted_by_the_trial_budget_are_retired_as_budget() -> None:
    paused = [record(n, {1: v}, TrialState.PAUSED) for n, v in enumerate([0.9, 0.8])]
    running = record(2, {1: 0.1, 3: 0.1})
    assert ASHA(1, 9, 3, mode="promote").promote([running, *paused], CONTEXT, final=True).kind is TrialKind.BUDGET
    hyperband = Hyperband(1, 9, 3, mode="promote")
    promotion = hyperband.promote([running, *paused], CONTEXT, final=True)
    assert promotion.retire and promotion.kind is TrialKind.BUDGET


def test_trials_below_the_top_of_a_settled_rung_are_retired_by_the_scheduler() -> None:
    group = [record(0, {1: 0.6}, TrialState.PAUSED), record(1, {1: 0.5}, TrialState.PAUSED),
             record(2, {1: 0.1, 3: 0.1})]  # fmt: skip
    promotion = SuccessiveHalving(1, 9, 3, population=3).promote(group, CONTEXT, final=False)
    assert set(promotion.retire) == {0, 1} and promotion.kind is TrialKind.SCHEDULER


def test_successive_halving_waits_for_the_whole_rung() -> None:
    sha = SuccessiveHalving(1, 9, 3, population=6)
    history = [record(n, {1: v}, TrialState.PAUSED) for n, v in enumerate([0.6, 0.5, 0.4, 0.3, 0.2])]
    assert sha.promote(history, CONTEXT, final=False).resume is None, "group of 6 not complete"
    running = record(5, {}, TrialState.RUNNING)
    assert sha.promote([*history, running], CONTEXT, final=False).resume is None, "a member is still on its way"
    last = record(5, {1: 0.9}, TrialState.PAUSED)
    promotion = sha.promote([*history, last], CONTEXT, final=False)
    assert promotion.resume == 4  # top 6 // 3 = 2 are trials 4 and 3
    assert set(promotion.retire) <= {0, 1, 2, 5}


def test_hyperband_deals_trials_to_brackets_in_proportion() -> None:
    hyperband = Hyperband(1, 27, 3)
    counts = np.bincount([hyperband.bracket_of(n) for n in range(len(hyperband._deck) * 10)])
    # dealt in proportion to eta**s for max/min = 27, eta = 3: s=3: 27, s=2: 9, s=1: 3, s=0: 1 (see Hyperband for
    # why not Hyperband's synchronous sizes)
    assert list(counts) == [10, 30, 90, 270]


def test_hyperband_bracket_zero_never_stops() -> None:
    hyperband = Hyperband(1, 27, 3)
    number = next(n for n in range(200) if hyperband.bracket_of(n) == 0)
    trial = record(number, {1: 100.0})
    peers = [record(n, {1: 0.1}, TrialState.COMPLETE) for n in range(200, 210)]
    assert hyperband.decide(trial, [*peers, trial], CONTEXT) is Decision.CONTINUE


def test_median_stop_after_warmup_only() -> None:
    median = MedianStop(warmup_steps=3, min_trials=3)
    peers = [record(n, {1: 1.0, 2: 0.8, 3: 0.5, 4: 0.4}, TrialState.COMPLETE) for n in range(3)]
    early = record(3, {1: 9.0, 2: 9.0})
    assert median.decide(early, [*peers, early], CONTEXT) is Decision.CONTINUE
    late = record(3, {1: 9.0, 2: 9.0, 3: 9.0})
    assert median.decide(late, [*peers, late], CONTEXT) is Decision.STOP
    fine = record(3, {1: 9.0, 2: 9.0, 3: 0.45})
    assert median.decide(fine, [*peers, fine], CONTEXT) is Decision.CONTINUE


def test_median_stop_needs_enough_peers() -> None:
    peers = [record(0, {5: 0.1}, TrialState.COMPLETE)]
    trial = record(1, {5: 9.0})
    assert MedianStop(warmup_steps=1, min_trials=2).decide(trial, [*peers, trial], CONTEXT) is Decision.CONTINUE


# End to end on the simulated clock ---------------------------------------------------------------

SPACE = ts.Space({"quality": ts.Float(0.0, 1.0)})


def curve(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    """Loss decays towards ``quality``; a step takes 60 simulated seconds."""
    quality = trial.params["quality"]
    for step in range(trial.step, 27):
        yield 60.0, {"loss": quality + 1.0 / (step + 1)}


def simulated_study(scheduler: object, trials: int = 60, workers: int = 4, **kwargs: object) -> ts.Study:
    study = ts.Study(SPACE, metric="loss", scheduler=scheduler, storage="memory", seed=0, sampler="random",
                     budget=ts.Budget(trials=trials), **kwargs)  # type: ignore[arg-type]  # fmt: skip
    study.optimize(curve, executor=SimulatedExecutor(workers=workers))
    return study


def test_simulated_clock_runs_a_study_in_milliseconds_and_stamps_simulated_time() -> None:
    study = simulated_study(None, trials=8, workers=2)
    records = study.trials
    assert all(r.state is TrialState.COMPLETE for r in records)
    assert all(r.duration == pytest.approx(27 * 60.0) for r in records)
    assert max(r.finished_at or 0 for r in records) - min(r.started_at or 0 for r in records) == pytest.approx(
        4 * 27 * 60.0
    )


def test_asha_on_the_simulated_clock_saves_resource_and_keeps_the_winner() -> None:
    fifo = simulated_study(None)
    asha = simulated_study(ASHA(1, 27, 3))
    assert fifo.usage().resource == 60 * 27
    assert asha.usage().resource < 0.35 * fifo.usage().resource
    assert asha.best is not None and fifo.best is not None
    assert asha.best.params == fifo.best.params, "same seed, same configurations: the best survives the rungs"
    assert asha.best.resource == 27


def test_asha_decisions_do_not_depend_on_the_worker_count() -> None:
    one = simulated_study(ASHA(1, 27, 3, mode="promote"), trials=30, workers=1)
    four = simulated_study(ASHA(1, 27, 3, mode="promote"), trials=30, workers=4)
    assert one.best is not None and four.best is not None
    assert one.best.params == four.best.params
    assert all(r.state is not TrialState.PAUSED for r in four.trials), "the study ends with nothing left paused"


def test_asha_promote_resumes_from_the_pause_step() -> None:
    starts: dict[int, list[int]] = {}

    def tracking(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        starts.setdefault(trial.number, []).append(trial.step)
        yield from curve(trial)

    study = ts.Study(SPACE, metric="loss", scheduler=ASHA(1, 27, 3, mode="promote"), storage="memory", seed=1,
                     sampler="random", budget=ts.Budget(trials=27))  # fmt: skip
    study.optimize(tracking, executor=SimulatedExecutor(workers=3))
    climbed = [n for n, s in starts.items() if len(s) > 1]
    assert climbed, "some trial must have been promoted"
    for number in climbed:
        assert starts[number] == [0, 1, 3, 9][: len(starts[number])]
    winner = study.best
    assert winner is not None and winner.resource == 27 and sorted(winner.intermediate) == list(range(1, 28))


def test_synchronous_successive_halving_end_to_end() -> None:
    study = simulated_study(SuccessiveHalving(1, 27, 3, population=27), trials=27, workers=5)
    states = [r.state for r in study.trials]
    assert states.count(TrialState.COMPLETE) == 1
    assert all(s in (TrialState.COMPLETE, TrialState.STOPPED) for s in states)
    reached = sorted(r.resource for r in study.trials)
    assert reached.count(1.0) == 18 and reached.count(3.0) == 6 and reached.count(9.0) == 2


def test_hyperband_end_to_end_completes_some_and_stops_others() -> None:
    study = simulated_study(Hyperband(1, 27, 3), trials=40)
    states = {r.state for r in study.trials}
    assert TrialState.COMPLETE in states and TrialState.STOPPED in states


def test_median_stop_end_to_end() -> None:
    study = simulated_study(MedianStop(warmup_steps=3, min_trials=3), trials=20)
    assert any(r.state is TrialState.STOPPED for r in study.trials)


def test_a_resumed_study_makes_the_same_decisions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/resume.db"

    def run(n_trials: int | None, name: str) -> ts.Study:
        study = ts.Study(SPACE, metric="loss", scheduler=ASHA(1, 27, 3), storage=url, name=name, seed=3,
                         sampler="random", budget=ts.Budget(trials=24))  # fmt: skip
        study.optimize(curve, executor=SimulatedExecutor(workers=1), n_trials=n_trials)
        return study

    straight = run(None, "straight")
    run(10, "resumed")
    resumed = run(None, "resumed")
    assert [(r.state, r.resource) for r in straight.trials] == [(r.state, r.resource) for r in resumed.trials]


def test_resource_budget_counts_steps_over_all_trials_exactly() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random",
                     budget=ts.Budget(resource=100))  # fmt: skip
    study.optimize(curve, executor=SimulatedExecutor(workers=3))
    assert study.usage().resource == 100


# Divergence ------------------------------------------------------------------------------------------


def test_a_loss_that_explodes_is_stopped_as_diverged() -> None:
    def exploding(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        for step in range(20):
            yield 1.0, {"loss": 1.0 * 2.0**step}

    study = ts.Study(SPACE, metric="loss", storage="memory", budget=ts.Budget(trials=1), seed=0)
    study.optimize(exploding, executor=SimulatedExecutor())
    trial = study.trials[0]
    assert trial.state is TrialState.STOPPED and trial.reason == "diverged"
    assert trial.resource == 5  # 16x the first value at step 5 is past the default factor of 10
    assert "grew from 1" in (trial.error or "")


def test_divergence_factor_can_be_disabled() -> None:
    def growing(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        for step in range(8):
            yield 1.0, {"loss": 2.0**step}

    study = ts.Study(SPACE, metric="loss", storage="memory", budget=ts.Budget(trials=1), seed=0,
                     divergence_factor=None)  # fmt: skip
    study.optimize(growing, executor=SimulatedExecutor())
    assert study.trials[0].state is TrialState.COMPLETE


# PBT ----------------------------------------------------------------------------------------------------


def test_pbt_stops_the_bottom_quantile_at_an_interval() -> None:
    pbt = PBT(perturbation_interval=4, quantile=0.25, min_population=4)
    history = [record(n, {4: v}) for n, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])]
    decisions = [pbt.decide(r, history, CONTEXT) for r in history]
    assert decisions == [Decision.CONTINUE] * 6 + [Decision.STOP] * 2
    between = record(9, {4: 0.9, 5: 0.95})
    assert pbt.decide(between, [*history, between], CONTEXT) is Decision.CONTINUE


def test_pbt_exploits_a_top_member_and_explores_its_params() -> None:
    space = ts.Space({"lr": ts.Float(1e-4, 1.0, log=True), "opt": ts.Choice(["a", "b"])})
    pbt = PBT(perturbation_interval=4, quantile=0.25, resample_probability=0.0, perturb_factors=(2.0,))
    history = [
        TrialRecord(n, {"lr": 0.01 * (n + 1), "opt": "a"}, n, TrialState.RUNNING,
                    intermediate={4: {"loss": 0.1 * (n + 1)}}, resource=4.0, attrs={"lineage": [100 + n]})
        for n in range(8)
    ]  # fmt: skip
    history[7] = history[7].evolve(state=TrialState.STOPPED, reason="stop by pbt at step 4", kind=TrialKind.SCHEDULER)
    continuation = pbt.propose(space, history, np.random.default_rng(0), CONTEXT)
    assert continuation is not None
    assert continuation.parent in (0, 1) and continuation.start_step == 4
    donor = history[continuation.parent]
    assert continuation.params["lr"] == pytest.approx(donor.params["lr"] * 2.0)
    assert continuation.attrs["replaces"] == 7 and continuation.attrs["lineage"] == [100 + donor.number, donor.number]
    replaced = [*history, TrialRecord(8, continuation.params, 8, attrs={"replaces": 7})]
    assert pbt.propose(space, replaced, np.random.default_rng(0), CONTEXT) is None, "each victim is replaced once"


def test_pbt_labels_each_explored_parameter_with_the_change_it_made() -> None:
    """The label said 'x0.8' for a linear range moved by a share of its width, an integer that did not move and a
    value stopped at a bound."""
    from tunesmith.schedulers.pbt import _change

    log_lr = ts.Float(1e-4, 1.0, log=True)
    linear = ts.Float(0.0, 1.0)
    count = ts.Int(1, 8)
    assert _change(log_lr, 0.01, 0.008, 0.8) == "x0.8"
    assert _change(log_lr, 0.9, 1.0, 1.2) == "to the bound 1"
    assert _change(linear, 0.3, 0.5, 1.2) == "+0.2"
    assert _change(linear, 0.1, 0.0, 0.8) == "to the bound 0"
    assert _change(count, 4, 3, 0.8) == "4 -> 3"
    pbt = PBT(perturbation_interval=4, resample_probability=0.0, perturb_factors=(0.8,))
    space = ts.Space({"n": ts.Int(1, 8)})
    _, changes = pbt._explore(space, {"n": 1}, np.random.default_rng(0))
    assert changes == {}, "n stayed 1 (0.8 rounds back up): nothing to label"


def test_pbt_end_to_end_hands_checkpoints_to_continuations(tmp_path: Path) -> None:
    space = ts.Space({"lr": ts.Float(0.01, 1.0, log=True)})

    def train(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        state = trial.load_checkpoint() or {"w": 0.0, "trained_by": []}
        assert trial.resumed == (state["trained_by"] != []), "a continuation finds its parent's checkpoint"
        weight = float(state["w"])
        for _ in range(trial.step, 16):
            weight += trial.params["lr"]
            trial.save_checkpoint({"w": weight, "trained_by": [*state["trained_by"], trial.number],
                                   "vector": np.full(3, weight)})  # fmt: skip
            yield 1.0, {"loss": math.exp(-weight)}

    study = ts.Study(space, metric="loss", scheduler=PBT(perturbation_interval=4), storage="memory", seed=0,
                     sampler="random", budget=ts.Budget(resource=160), checkpoint_dir=tmp_path / "ckpt",
                     keep_checkpoints=2)  # fmt: skip
    study.optimize(train, executor=SimulatedExecutor(workers=4))
    records = study.trials
    continuations = [r for r in records if "parent" in r.attrs]
    assert continuations, "PBT must have exploited some members"
    for child in continuations:
        parent = records[child.attrs["parent"]]
        assert child.attrs["lineage"][-1] == parent.number
        assert min(child.intermediate) == child.attrs["start_step"] + 1
    assert study.usage().resource == 160
    kept = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    unfinished = [r for r in records if not r.state.is_finished]
    assert len(kept) <= 2 + len(unfinished), f"checkpoints nobody can use are deleted, kept {kept}"


def test_checkpoint_helpers_round_trip_arrays_and_plain_state(tmp_path: Path) -> None:
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path / "t0")
    assert trial.load_checkpoint() is None
    trial.save_checkpoint({"epoch": 3, "history": [0.5, 0.4], "weights": np.arange(6.0).reshape(2, 3)})
    state = trial.load_checkpoint()
    assert state is not None and state["epoch"] == 3 and state["history"] == [0.5, 0.4]
    np.testing.assert_array_equal(state["weights"], np.arange(6.0).reshape(2, 3))
    with pytest.raises(ts.TunesmithError, match="JSON values and numpy arrays"):
        trial.save_checkpoint({"model": object()})


# Seeing a multi-fidelity history at one rung ---------------------------------------------------------


def test_rung_view_picks_the_highest_rung_enough_trials_reached() -> None:
    from tunesmith.fidelity import rung_view

    history = [record(n, {1: 1.0 + n, 3: 0.5 + n}, TrialState.STOPPED) for n in range(6)]
    history += [record(6 + n, {1: 2.0 + n}, TrialState.STOPPED) for n in range(6)]
    history.append(record(12, {1: 0.1}, TrialState.RUNNING))
    level, view = rung_view(history, Metric("loss"), (1.0, 3.0, 9.0), min_observations=6)
    assert level == 3.0
    assert [r.number for r in view] == [0, 1, 2, 3, 4, 5, 12]
    assert all(r.state is TrialState.COMPLETE and r.metrics["loss"] == 0.5 + r.number for r in view[:6])
    assert view[-1].state is TrialState.RUNNING
    level, view = rung_view(history, Metric("loss"), (1.0, 3.0, 9.0), min_observations=12)
    assert level == 1.0 and len(view) == 13


def test_the_rung_view_memo_gives_the_same_view_and_keeps_each_finished_records_copy() -> None:
    # A sampler asks for the view at every suggestion: the memo saves re-reading every curve and re-copying every
    # record, and must never change what the view shows, nor serve a running trial's reading once it has moved on.
    from tunesmith.fidelity import ViewMemo, rung_view

    history = [record(n, {1: 1.0 + n, 3: 0.5 + n}, TrialState.STOPPED) for n in range(6)]
    history.append(record(6, {1: 0.1}, TrialState.RUNNING))
    memo = ViewMemo()
    args = (Metric("loss"), (1.0, 3.0, 9.0), 6)
    plain = rung_view(history, *args)
    first = rung_view(history, *args, memo=memo)
    again = rung_view(history, *args, memo=memo)
    assert first == plain and again == plain
    assert all(a is b for a, b in zip(first[1][:6], again[1][:6], strict=True)), "a finished record keeps its copy"
    history[6].intermediate[3] = {"loss": 0.05}  # the running trial reports past the rung (the same record)
    level, view = rung_view(history, *args, memo=memo)
    assert (level, view) == rung_view(history, *args)
    assert view[-1].metrics["loss"] == 0.05 and view[-1].state is TrialState.COMPLETE
    other = rung_view(history, Metric("loss", direction="max"), (1.0, 3.0, 9.0), 6, memo=memo)
    assert other == rung_view(history, Metric("loss", direction="max"), (1.0, 3.0, 9.0), 6), (
        "keyed by the metric's goal"
    )


def test_a_records_copy_shares_what_it_does_not_change_and_refuses_an_unknown_field() -> None:
    original = record(0, {1: 1.0}, TrialState.STOPPED)
    copy = original.evolve(state=TrialState.COMPLETE, reason=None)
    assert copy.state is TrialState.COMPLETE and original.state is TrialState.STOPPED
    assert copy.intermediate is original.intermediate and copy == original.evolve(state=TrialState.COMPLETE)
    with pytest.raises(TypeError, match="no field stat: its fields are attrs"):
        original.evolve(stat=TrialState.COMPLETE)


def test_importance_of_an_asha_study_is_measured_at_a_rung() -> None:
    from tunesmith.report import analyse, report_data

    space = ts.Space({"lr": ts.Float(0.0, 1.0), "noise": ts.Float(0.0, 1.0)})

    def lr_matters(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        for step in range(trial.step, 27):
            yield 1.0, {"loss": (trial.params["lr"] - 0.2) ** 2 + 0.01 * trial.params["noise"] + 1.0 / (step + 1)}

    study = ts.Study(space, metric="loss", scheduler=ASHA(1, 27, 3), storage="memory", seed=2, sampler="random",
                     budget=ts.Budget(trials=60))  # fmt: skip
    study.optimize(lr_matters, executor=SimulatedExecutor(workers=2))
    findings = analyse(report_data(study))
    assert findings.importance is not None, findings.importance_note
    assert findings.importance.ranking()[0] == "lr"
    assert "measured at resource" in (findings.importance_note or "")


def test_promote_mode_resumes_from_checkpoints_across_real_processes(tmp_path: Path) -> None:
    from tests.test_checkpoint_root import checkpointed as objective  # asserts a resumed trial finds its epochs

    study = ts.Study(SPACE, metric="loss", scheduler=ASHA(1, 9, 3, mode="promote"), storage="memory", seed=4,
                     sampler="random", budget=ts.Budget(trials=9), checkpoint_dir=tmp_path)  # fmt: skip
    study.optimize(objective, workers=2, executor="processes")
    states = [r.state for r in study.trials]
    assert TrialState.PAUSED not in states and TrialState.FAILED not in states, [r.error for r in study.trials]
    winner = study.best
    assert winner is not None and winner.resource == 9
    assert sorted(winner.intermediate) == list(range(1, 10))


def test_model_based_samplers_fit_on_the_highest_rung_with_enough_trials() -> None:
    from tunesmith.samplers._history import observe

    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    history = [
        TrialRecord(n, {"x": n / 20}, n, TrialState.STOPPED, metrics={"loss": 5.0 + n},
                    intermediate={1: {"loss": 5.0 + n}}, resource=1.0)
        for n in range(12)
    ]  # fmt: skip
    history += [
        TrialRecord(12 + n, {"x": 0.9 - n / 20}, n, TrialState.STOPPED, metrics={"loss": 0.5 + n},
                    intermediate={1: {"loss": 1.0}, 3: {"loss": 0.5 + n}}, resource=3.0)
        for n in range(6)
    ]  # fmt: skip
    plain = observe(space, history, CONTEXT)
    assert len(plain.x) == 18, "without rungs every finished trial's last value is an observation"
    with_rungs = SearchContext(metric=Metric("loss"), rungs=(1.0, 3.0, 9.0))
    at_rung = observe(space, history, with_rungs)
    reached, behind = sorted(at_rung.loss)[:6], at_rung.loss[:12]
    assert len(at_rung.x) == 18 and reached == [0.5 + n for n in range(6)]
    assert min(behind) > max(reached), "stopped at rung 1: behind every trial that reached rung 3"
    assert list(behind) == sorted(behind), "in the order they had at rung 1"


def test_once_enough_trials_trained_to_the_end_samplers_see_final_values_and_stopped_trials_behind() -> None:
    """Seen at an intermediate rung, a model would optimise the loss after 27 of 81 steps (fast starters);
    once enough trials trained to the end, it fits their final values and ranks every stopped trial after."""
    from tunesmith.samplers._history import observe

    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    full = [TrialRecord(n, {"x": n / 10}, n, TrialState.COMPLETE, metrics={"loss": 0.1 + n / 100},
                        intermediate={1: {"loss": 2.0}, 3: {"loss": 0.05 + n / 100}, 9: {"loss": 0.1 + n / 100}},
                        resource=9.0) for n in range(6)]  # fmt: skip
    # Validation loss that rises late (overfitting): stopped after 3 steps, these trailed every trial there,
    # yet their last values sit among the final ones.
    stopped = [TrialRecord(6 + n, {"x": 0.05 + n / 10}, n, TrialState.STOPPED, metrics={"loss": 0.12 + n / 100},
                           intermediate={1: {"loss": 1.5}, 3: {"loss": 0.12 + n / 100}}, resource=3.0)
               for n in range(4)]  # fmt: skip
    obs = observe(space, full + stopped, SearchContext(metric=Metric("loss"), rungs=(1.0, 3.0, 9.0)))
    finals, behind = obs.loss[:6], obs.loss[6:]
    assert list(finals) == [0.1 + n / 100 for n in range(6)], "trained to the end: the final values"
    assert min(behind) > max(finals) and list(behind) == sorted(behind)


def test_a_trial_that_diverged_after_a_rung_is_a_failure_to_samplers_however_good_it_looked_there() -> None:
    from tunesmith.samplers._history import observe

    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    history = [TrialRecord(n, {"x": n / 10}, n, TrialState.STOPPED, metrics={"loss": 1.0 + n},
                           intermediate={1: {"loss": 1.0 + n}}, resource=1.0) for n in range(6)]  # fmt: skip
    diverged = TrialRecord(6, {"x": 0.95}, 6, TrialState.STOPPED, metrics={"loss": 1e3}, kind=TrialKind.DIVERGED,
                           intermediate={1: {"loss": 0.01}, 3: {"loss": 1e3}}, resource=3.0)  # fmt: skip
    obs = observe(space, [*history, diverged], SearchContext(metric=Metric("loss"), rungs=(1.0, 3.0, 9.0)))
    assert len(obs.x) == 6 and len(obs.failed_x) == 1 and obs.failed_x[0][0] == pytest.approx(0.95)


def test_asha_keeps_no_place_at_a_rung_for_a_trial_that_diverged_later() -> None:
    """Late divergers look best at the low rungs; counted there, they stop the live trials that could win."""
    diverged = [record(n, {1: 0.01 * n, 3: 1e3}, TrialState.STOPPED) for n in range(3)]
    diverged = [r.evolve(kind=TrialKind.DIVERGED) for r in diverged]
    peers = [record(3 + n, {1: 0.5 + n}, TrialState.STOPPED) for n in range(3)]
    trial = record(6, {1: 0.4})
    history = [*diverged, *peers, trial]
    assert ASHA(1, 9, 3).decide(trial, history, CONTEXT) is Decision.CONTINUE
    assert ASHA(1, 9, 3).decide(trial, [r.evolve(kind=None) for r in history], CONTEXT) is Decision.STOP


def test_pbt_with_fewer_workers_than_its_population_says_it_cannot_exploit() -> None:
    space = ts.Space({"lr": ts.Float(0.01, 1.0, log=True)})

    def train(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        for step in range(trial.step, 12):
            yield 1.0, {"loss": 1.0 / (1 + trial.params["lr"] * (step + 1))}

    def study() -> ts.Study:
        return ts.Study(space, metric="loss", scheduler=PBT(perturbation_interval=4, min_population=4),
                        storage="memory", seed=0, budget=ts.Budget(resource=96))  # fmt: skip

    alone = study()
    with pytest.warns(ts.study.PopulationWarning, match=r"pbt needs 4 trials training at the same time .* this "
                      r"optimize\(\) runs 2 at once: .* pass workers=4 or more"):  # fmt: skip
        result = alone.optimize(train, executor=SimulatedExecutor(workers=2))
    assert not [r for r in alone.trials if "parent" in r.attrs] and any("min_population" in n for n in result.notes)
    together = study()
    with pytest.warns(ts.study.CheckpointWarning, match=r"saved no checkpoint"):  # its objective keeps none
        together.optimize(train, executor=SimulatedExecutor(workers=4))  # no other warning (they are errors here)
    assert [r for r in together.trials if "parent" in r.attrs], "with its population training at once, PBT exploits"
