"""PBT compares a member with its peers at a comparable point of training: a peer further on by what it reported at
the member's steps, not by where it is now; a continuation that joined past those steps not at all. With fewer than
``min_population`` members compared, the member goes on, and the explanation says so."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import tunesmith as ts
from tunesmith.executors import SimulatedExecutor
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
INTERVAL = 5


def _good(step: int) -> float:
    """The loss of a good configuration at ``step``: it falls fast, so a member further on is far lower."""
    return 2.0 * 0.8**step


def _study(tmp_path: Path) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=INTERVAL, min_population=4),
                    storage=f"sqlite:///{tmp_path / 'study.db'}", seed=0, checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def _train(trial: ts.Trial, steps: int, scale: float = 1.0) -> None:
    """Report ``steps`` more steps of the good curve times ``scale``, saving the state after each."""
    for _ in range(steps):
        trial.report(loss=scale * _good(trial.step + 1))
        trial.save_checkpoint({"trained": trial.step})


def test_a_new_member_better_at_the_same_steps_goes_on_though_peers_further_on_are_lower(tmp_path: Path) -> None:
    study = _study(tmp_path)
    peers, member = [study.ask() for _ in range(3)], study.ask()
    for scale, peer in zip((1.0, 1.01, 1.02), peers, strict=True):
        _train(peer, 12, scale)
    # At its first round its losses are the lowest any member reported at steps 1-5, and above every peer's now.
    _train(member, INTERVAL, 0.99)
    assert not member.should_stop()


def test_a_new_member_worse_at_the_same_steps_is_exploited_and_the_reason_names_those_steps(tmp_path: Path) -> None:
    study = _study(tmp_path)
    peers, member = [study.ask() for _ in range(3)], study.ask()
    for scale, peer in zip((1.0, 1.01, 1.02), peers, strict=True):
        _train(peer, 12, scale)
    _train(member, INTERVAL, 1.5)
    assert member.should_stop()
    record = study.tell(member)
    assert (record.state, record.kind) == (TrialState.STOPPED, TrialKind.SCHEDULER)
    assert f"of the 4 trials training now ranked at steps 1-{INTERVAL}" in (record.reason or ""), record.reason
    assert f"by {0.5 * np.mean([_good(s) for s in range(1, 6)]):.3g} at the same steps 1-{INTERVAL}" in (
        record.reason or ""
    ), record.reason


def test_a_member_whose_peers_all_joined_past_its_steps_goes_on_and_the_explanation_says_why(tmp_path: Path) -> None:
    study = _study(tmp_path)
    ahead, donors, victims = study.ask(), [study.ask(), study.ask()], [study.ask() for _ in range(3)]
    _train(ahead, 21, 2.0)  # a step further than the donors (so they have steps left to hand on), and worse
    for donor in donors:
        _train(donor, 20)
    for victim in victims:
        _train(victim, INTERVAL, 3.0)
        assert victim.should_stop(), "a member far behind at the same steps is exploited"
        study.tell(victim)
    continuations = [study.ask() for _ in victims]
    assert all(c.start_step == 20 for c in continuations), [c.start_step for c in continuations]
    for trained in (ahead, *donors):
        study.tell(trained, _good(int(trained.step)))
    for continuation in continuations:
        _train(continuation, 4)
    member = study.ask()
    assert member.start_step == 0 and "parent" not in study.trials[member.number].attrs
    _train(member, INTERVAL)  # level with the donors' lineage at steps 1-5; each continuation is 20 steps on
    assert not member.should_stop()
    why = study.scheduler.explain(study.trials[member.number], study.trials, study.context) or ""
    assert why.startswith("goes on: only 1 of the 4 trials training now are at a comparable point"), why
    assert "fewer than min_population=4" in why, why


def _descent(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    """Gradient descent on ``w**2`` from 5 with noise 0.01 per step, 40 steps: a larger ``lr`` is always better."""
    state = trial.load_checkpoint() if trial.resumed else None
    w = 5.0 if state is None else float(state["w"])
    rng = np.random.default_rng(trial.seed % 2**32)
    for _ in range(trial.step, 40):
        w -= trial.params["lr"] * 2 * w + rng.normal(0.0, 0.01)
        trial.save_checkpoint({"w": w})
        yield 1.0, {"loss": w * w}


def test_in_a_pbt_run_no_new_member_with_the_best_learning_rate_is_stopped_at_its_first_round(tmp_path: Path) -> None:
    study = ts.Study(ts.Space({"lr": ts.Float(0.001, 0.2, log=True)}), metric="loss",
                     scheduler=ts.PBT(perturbation_interval=INTERVAL), budget=ts.Budget(resource=800),
                     storage="memory", seed=0, checkpoint_dir=tmp_path / "ckpt")  # fmt: skip
    study.optimize(_descent, progress=False, executor=SimulatedExecutor(workers=4, start_time=0))
    best = [r for r in study.trials if "parent" not in r.attrs and math.isclose(r.params["lr"], 0.2, rel_tol=0.05)]
    assert len(best) >= 5, "the sampler finds the best learning rate, and new members try it"
    cut = [(r.number, r.reason) for r in best if r.kind is TrialKind.SCHEDULER and r.resource <= INTERVAL]
    assert not cut, cut
