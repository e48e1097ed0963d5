"""PBT replaces an exploited member with a continuation even when the leader reached the step a finished trial ended
at (it may have no step left, so the best member with steps left donates, and the replacement says why), and its
explore moves a parameter on a grid of values (powers of two, stepped or log-scale integers, stepped floats) to a
neighbouring value, never back onto the value it had."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tunesmith as ts
from tunesmith.schedulers import PBT
from tunesmith.space import Param
from tunesmith.trial import TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _train(trial: ts.Trial, losses: list[float]) -> None:
    """Report ``losses`` one step each, saving the state after each report."""
    for loss in losses:
        trial.report(loss=loss)
        trial.save_checkpoint({"trained": trial.step})


def _leader_at_the_end(tmp_path: Path) -> tuple[ts.Study, ts.Trial, ts.Trial, ts.Trial]:
    """A trial finished at step 6, so training is known to end there; then four members: the leader (the best)
    reported step 6, two reported step 4, and the worst is stopped at step 2. Returns the study, the leader, the best
    of the other two and the stopped member."""
    study = ts.Study(
        SPACE,
        metric="loss",
        scheduler=ts.PBT(perturbation_interval=2, min_population=4),
        storage=f"sqlite:///{tmp_path / 'study.db'}",
        seed=0,
        checkpoint_dir=tmp_path / "ckpt",
    )
    finished = study.ask()
    _train(finished, [0.5 - 0.01 * k for k in range(6)])
    assert study.tell(finished, 0.45).state is TrialState.COMPLETE
    leader, second, third, victim = (study.ask() for _ in range(4))
    _train(leader, [0.2 - 0.01 * k for k in range(6)])
    _train(second, [0.6, 0.59, 0.58, 0.57])
    _train(third, [0.61, 0.6, 0.59, 0.58])
    _train(victim, [0.9, 0.9])
    assert victim.should_stop(), "PBT stops the bottom member at its round"
    study.tell(victim)
    assert study.trials[victim.number].state is TrialState.STOPPED
    return study, leader, second, victim


def test_a_stopped_member_is_replaced_by_the_best_member_with_steps_left_when_the_leader_reached_the_known_end(
    tmp_path: Path,
) -> None:
    study, _, second, victim = _leader_at_the_end(tmp_path)
    child = study.ask()
    attrs = study.trials[child.number].attrs
    assert (attrs.get("parent"), attrs.get("replaces")) == (second.number, victim.number), attrs
    assert child.start_step == 4 and child.load_checkpoint() == {"trained": 4}


def test_a_replacement_continuing_a_member_below_the_top_quantile_says_why_in_its_donor_note(tmp_path: Path) -> None:
    study, leader, second, _ = _leader_at_the_end(tmp_path)
    child = study.ask()
    note = study.trials[child.number].attrs["donor_note"]
    leaders = f"the top 0.25 of the members training (#{leader.number}) reached step 6, where a finished trial ended"
    assert leaders in note, note
    assert f"#{second.number}, ranked 2 of the 3 training and the best with steps left, donates" in note, note


def _explored(param: Param, value: object, factor: float) -> set[object]:
    """The values 20 perturbations of ``value`` by ``factor`` give (no resampling), each checked against the space."""
    space = ts.Space({"p": param})
    pbt = PBT(resample_probability=0.0, perturb_factors=(factor,))
    rng = np.random.default_rng(0)
    moved = {pbt._explore(space, {"p": value}, rng)[0]["p"] for _ in range(20)}
    assert all(param.contains(v) for v in moved), moved
    return moved


def test_a_perturbed_power_of_two_moves_to_the_neighbouring_power_the_factor_points_to() -> None:
    batch_size = ts.Int(32, 4096, base=2)
    for value in (64, 128, 256, 512, 1024, 2048):
        assert _explored(batch_size, value, 1.2) == {value * 2}, value
        assert _explored(batch_size, value, 0.8) == {value // 2}, value


def test_a_power_of_two_at_the_top_of_its_range_moves_down_and_stays_there_when_pushed_up() -> None:
    batch_size = ts.Int(32, 4096, base=2)
    assert _explored(batch_size, 4096, 0.8) == {2048}
    assert _explored(batch_size, 4096, 1.2) == {4096}


def test_a_perturbed_small_log_scale_integer_moves_to_the_neighbouring_integer() -> None:
    layers = ts.Int(1, 1000, log=True)
    assert _explored(layers, 2, 1.2) == {3}  # 2.4 rounds back to 2
    assert _explored(layers, 4, 0.8) == {3}


def test_a_perturbed_stepped_integer_moves_to_the_neighbouring_step() -> None:
    units = ts.Int(10, 100, step=10)
    assert _explored(units, 20, 1.2) == {30}  # 24 lies nearer 20
    assert _explored(units, 20, 0.8) == {10}


def test_a_perturbed_stepped_float_moves_to_the_neighbouring_step() -> None:
    dropout = ts.Float(0.25, 1.0, step=0.25)
    assert _explored(dropout, 0.5, 1.2) == {0.75}  # 0.6 lies nearer 0.5
    assert _explored(dropout, 0.5, 0.8) == {0.25}


def test_a_move_to_the_neighbouring_power_at_the_bound_is_labelled_as_the_move_not_as_stopped_by_the_bound() -> None:
    space = ts.Space({"batch_size": ts.Int(32, 4096, base=2)})
    pbt = PBT(resample_probability=0.0, perturb_factors=(1.2,))
    _, changes = pbt._explore(space, {"batch_size": 2048}, np.random.default_rng(0))
    assert changes == {"batch_size": "2048 -> 4096"}
