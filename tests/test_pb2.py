"""PB2: PBT whose replacements take the hyperparameters a Gaussian process over (step, hyperparameters) expects to
improve the loss most over their first interval.

The data are the intervals the members trained (the change of the mean loss from one interval to the next, a
continuation's first one against its donor's last); with too few of them a replacement is explored as PBT explores,
and says so; with enough, it goes where the model puts the fastest fall at the step it starts from, which moves as
training goes on."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.executors import SimulatedExecutor
from tunesmith.objective import Metric
from tunesmith.samplers._history import categorical_dims
from tunesmith.samplers.base import SearchContext
from tunesmith.schedulers import PB2, make_scheduler
from tunesmith.schedulers.pb2 import _REDRAW, MIN_INTERVALS, STEP, _near, exploration, intervals
from tunesmith.schedulers.pbt import EXPLORER
from tunesmith.trial import TrialKind, TrialRecord, TrialState

CONTEXT = SearchContext(metric=Metric("loss", "min"))
SPACE = ts.Space({"lr": ts.Float(1e-4, 1.0, log=True)})


def _member(number: int, lr: float, curve: dict[int, float], state: TrialState = TrialState.RUNNING,
            **attrs: object) -> TrialRecord:  # fmt: skip
    return TrialRecord(number, {"lr": lr}, number, state, intermediate={s: {"loss": v} for s, v in curve.items()},
                       resource=float(max(curve)), attrs=dict(attrs))  # fmt: skip


def test_an_interval_is_the_change_of_the_mean_loss_from_the_one_before() -> None:
    member = _member(0, 0.01, {s: 10.0 - s for s in range(1, 11)})  # steps 9-10 start an interval not yet full
    seen = intervals(SPACE, [member], CONTEXT, interval=4)
    assert seen.steps.tolist() == [8.0]
    assert seen.change.tolist() == [pytest.approx(np.mean([5, 4, 3, 2]) - np.mean([9, 8, 7, 6]))]
    assert seen.x[:, 0].tolist() == [pytest.approx(SPACE["lr"].encode(0.01))]


def test_a_continuations_first_interval_is_measured_against_its_donors_last() -> None:
    donor = _member(0, 0.01, {s: 10.0 - s for s in range(1, 9)})
    child = _member(1, 0.1, {9: 0.5, 10: 0.5, 11: 0.5, 12: 0.5}, parent=0, start_step=8)
    seen = intervals(SPACE, [donor, child], CONTEXT, interval=4)
    at_12 = seen.steps == 12.0
    assert seen.change[at_12].tolist() == [pytest.approx(0.5 - np.mean([5, 4, 3, 2]))]
    assert seen.x[at_12, 0].tolist() == [pytest.approx(SPACE["lr"].encode(0.1))], "the child's own parameters"


def test_intervals_read_the_metrics_direction_and_skip_invalidated_trials() -> None:
    rising = _member(0, 0.01, {s: float(s) for s in range(1, 9)})
    invalid = _member(1, 0.1, {s: float(s) for s in range(1, 9)}, invalidated="a leak")
    seen = intervals(SPACE, [rising, invalid], SearchContext(metric=Metric("acc", "max")), interval=4)
    assert len(seen) == 0, "no loss metric reported"
    seen = intervals(SPACE, [rising, invalid], SearchContext(metric=Metric("loss", "max")), interval=4)
    assert seen.change.tolist() == [-4.0], "a rising score is a falling loss; the invalidated trial is left out"


def _population(rate: object, steps: int = 40, interval: int = 4) -> list[TrialRecord]:
    """Eight members on a log grid of learning rates, each trained ``steps`` steps: the loss falls each step by
    ``rate(lr, step)``. The worst is stopped at the last step (PBT's victim)."""
    lrs = np.geomspace(1e-4, 1.0, 8)
    members = []
    for number, lr in enumerate(lrs):
        loss, curve = 10.0, {}
        for step in range(1, steps + 1):
            loss -= rate(float(lr), step)  # type: ignore[operator]
            curve[step] = loss
        members.append(_member(number, float(lr), curve))
    worst = max(members, key=lambda r: r.intermediate[steps]["loss"])
    stopped = worst.evolve(state=TrialState.STOPPED, reason="stop by pb2", kind=TrialKind.SCHEDULER)
    return [stopped if r.number == worst.number else r for r in members]


def _bell(lr: float, best: float) -> float:
    return math.exp(-((math.log10(lr) - math.log10(best)) ** 2) / 0.5)


def test_the_replacement_goes_where_the_model_puts_the_fastest_fall_at_the_step_it_starts() -> None:
    """Over 28 steps the loss falls fastest at lr 0.1, over the next 12 at lr 0.001: at step 40 the replacement takes
    a learning rate near 0.001, whatever its donor trains with (without the step as an input, the model chose 0.086,
    the rate most of its data favour)."""
    moving = _population(lambda lr, step: 0.1 * _bell(lr, 0.1 if step <= 28 else 1e-3))
    continuation = PB2(perturbation_interval=4).propose(SPACE, moving, np.random.default_rng(0), CONTEXT)
    assert continuation is not None and continuation.start_step == 40
    assert 3e-4 < continuation.params["lr"] < 3e-3, continuation.params
    assert continuation.attrs[EXPLORER].startswith("PB2: upper confidence bound over ")
    donor_lr = moving[continuation.parent].params["lr"]
    assert continuation.attrs["explored"] == {"lr": f"{donor_lr:.4g} -> {continuation.params['lr']:.4g}"}


def test_with_too_few_intervals_a_replacement_is_explored_as_pbt_explores_and_says_so() -> None:
    short = _population(lambda lr, step: 0.1 * _bell(lr, 0.01), steps=4)  # one interval each: no change yet
    pb2 = PB2(perturbation_interval=4, resample_probability=0.0, perturb_factors=(2.0,))
    continuation = pb2.propose(SPACE, short, np.random.default_rng(0), CONTEXT)
    assert continuation is not None
    assert continuation.params["lr"] == pytest.approx(short[continuation.parent].params["lr"] * 2.0)
    assert continuation.attrs[EXPLORER] == (f"PBT's perturbation: the model had 0 intervals with varying changes "
                                            f"of the loss, {MIN_INTERVALS} needed")  # fmt: skip


def test_the_exploration_width_grows_slowly_with_the_data() -> None:
    assert exploration(8) == pytest.approx(0.2 * math.log(3.2) + 1e-3)
    assert 0.2 < exploration(8) < exploration(200) < 1.0


def _moving_optimum(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    """A loss that falls fastest at a learning rate that moves from 0.1 to 0.001 over 60 steps; a continuation
    carries the loss over in its checkpoint."""
    state = trial.load_checkpoint() if trial.resumed else None
    loss = 1.0 if state is None else float(state["loss"])
    for step in range(trial.step, 60):
        loss *= 1.0 - 0.08 * _bell(trial.params["lr"], 10 ** (-1.0 - 2.0 * step / 60))
        trial.save_checkpoint({"loss": loss})
        yield 1.0, {"loss": loss}


def test_a_pb2_study_continues_members_with_chosen_parameters_and_reopens_with_its_scheduler(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pb2.db'}"
    study = ts.Study(SPACE, metric="loss", scheduler=ts.PB2(perturbation_interval=4), storage=url, name="pb2",
                     seed=0, sampler="random", budget=ts.Budget(resource=480), checkpoint_dir=tmp_path / "ckpt",
                     keep_checkpoints=4)  # fmt: skip
    study.optimize(_moving_optimum, progress=False, executor=SimulatedExecutor(workers=4, start_time=0))
    continuations = [r for r in study.trials if "parent" in r.attrs]
    hows = [r.attrs[EXPLORER] for r in continuations]
    assert any(how.startswith("PB2: upper confidence bound") for how in hows), hows
    assert all(how.startswith(("PB2: ", "PBT's perturbation: ")) for how in hows), hows
    reopened = ts.Study.load("pb2", url)
    assert isinstance(reopened.scheduler, PB2)
    assert (
        reopened.scheduler.describe()
        == study.scheduler.describe()
        == make_scheduler("pb2").describe() | {"perturbation_interval": 4}
    )


def test_the_steps_weighed_stay_near_the_donor_and_leave_out_what_the_space_forbids() -> None:
    """The bound is maximised over steps from the donor (a trust region): normal steps of a tenth of each range in
    its encoding, a choice drawn again now and then, none the space forbids."""
    space = ts.Space({"lr": ts.Float(1e-4, 1.0, log=True), "opt": ts.Choice(["sgd", "adam", "rms"])},
                     forbidden=[ts.Forbidden({"lr": ts.Above(0.1)})])  # fmt: skip
    donor = {"lr": 0.01, "opt": "sgd"}
    configs = _near(space, space.encode(donor), categorical_dims(space)[0], np.random.default_rng(0))
    assert configs[0]["lr"] == pytest.approx(0.01) and configs[0]["opt"] == "sgd" and len(configs) > 400
    assert all(c["lr"] <= 0.1 for c in configs), "a forbidden step is never weighed"
    moved = np.log10([c["lr"] for c in configs]) + 2.0  # decades from the donor's 0.01
    assert np.std(moved) == pytest.approx(STEP * 4, rel=0.15), "a tenth of the four decades, as a standard deviation"
    other = np.mean([c["opt"] != "sgd" for c in configs])
    assert other == pytest.approx(_REDRAW * 2 / 3, abs=0.06), "drawn again with probability _REDRAW, 2 of 3 new"


def test_a_replacement_on_a_mixed_conditional_space_is_a_valid_configuration() -> None:
    space = ts.Space(
        {
            "lr": ts.Float(1e-4, 1.0, log=True),
            "layers": ts.Int(1, 6),
            "opt": ts.Choice(["sgd", "adam"]),
            "momentum": ts.Float(0.0, 0.99, when={"opt": "sgd"}),
        }
    )
    rng = np.random.default_rng(1)
    members = []
    for number in range(8):
        params = space.sample(rng)
        loss, curve = 10.0, {}
        for step in range(1, 25):
            loss -= 0.1 * _bell(params["lr"], 0.01) * (1.0 + 0.1 * rng.standard_normal())
            curve[step] = loss
        members.append(TrialRecord(number, params, number, TrialState.RUNNING, resource=24.0,
                                   intermediate={s: {"loss": v} for s, v in curve.items()}))  # fmt: skip
    worst = max(members, key=lambda r: r.intermediate[24]["loss"])
    members[worst.number] = worst.evolve(state=TrialState.STOPPED, reason="stop by pb2", kind=TrialKind.SCHEDULER)
    continuation = PB2(perturbation_interval=4).propose(space, members, np.random.default_rng(0), CONTEXT)
    assert continuation is not None
    assert continuation.attrs[EXPLORER].startswith("PB2: ")
    assert space.validate(continuation.params) == continuation.params
    assert ("momentum" in continuation.params) == (continuation.params["opt"] == "sgd")
