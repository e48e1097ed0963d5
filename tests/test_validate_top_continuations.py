"""A PBT continuation's search score came from a schedule (its parent's configuration up to the step it took over, then
its own): `validate_top` re-runs its final configuration from scratch, another schedule, so it says so, and the
verdict's seed-stability check does not pass as decided on those re-runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import tunesmith as ts
from tunesmith.discipline._reruns import seed_list
from tunesmith.discipline.verdict import Check

SEEDS = 3


def _pbt_study(tmp_path: Path) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0.1, 1.0)}), metric="loss",
                    scheduler=ts.PBT(perturbation_interval=2, min_population=4, resample_probability=0.0),
                    storage="memory", seed=0, sampler="random", checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def _train(trial: ts.Trial, losses: Sequence[float]) -> None:
    for loss in losses:
        trial.report(loss=loss)
        trial.save_checkpoint({"loss": loss})


def _continued(tmp_path: Path) -> tuple[ts.Study, ts.Trial, ts.Trial]:
    """Four members train 2 steps; PBT stops the worst, and its replacement, which continues the best member (the
    donor) from step 2 under a perturbed x, ends best: (study, donor, continuation)."""
    study = _pbt_study(tmp_path)
    donor, middle, other, worst = (study.ask() for _ in range(4))
    for trial, losses in ((donor, [0.5, 0.4]), (middle, [0.7, 0.65]), (other, [0.72, 0.66]), (worst, [0.95, 0.95])):
        _train(trial, losses)
    assert worst.should_stop()
    study.tell(worst)
    child = study.ask()
    assert study.trials[child.number].attrs["parent"] == donor.number and child.start_step == 2
    _train(child, [0.3, 0.25])
    for trial, loss in ((donor, 0.4), (middle, 0.65), (other, 0.66), (child, 0.25)):
        study.tell(trial, {"loss": loss})
    return study, donor, child


def _reruns(losses: Sequence[float]) -> Callable[[ts.Trial], dict[str, float]]:
    """A re-run objective whose run on the i-th seed of `validate_top` scores ``losses[i]``."""
    seeds = seed_list(0, len(losses))
    return lambda trial: {"loss": losses[seeds.index(trial.seed)]}


STEADY = [0.249, 0.25, 0.251]  # a spread of 0.4% on 3 seeds: an ordinary trial's seed check passes as decided


def _seed_check(study: ts.Study, losses: Sequence[float]) -> Check:
    ts.validate_top(study, _reruns(losses), k=1, seeds=len(losses), progress=False)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": 0.25}, holdout="continuations")
    return verdict.check("seed stability")


def _x(study: ts.Study, trial: ts.Trial) -> str:
    return f"{study.trials[trial.number].params['x']:.4g}"


def test_a_continuations_candidate_note_names_its_lineage_and_what_its_reruns_train(tmp_path: Path) -> None:
    study, donor, child = _continued(tmp_path)
    report = ts.validate_top(study, _reruns(STEADY), k=1, seeds=SEEDS, progress=False)
    (candidate,) = report.candidates
    assert candidate.trial == child.number
    assert candidate.note == (
        f"#{child.number} continued #{donor.number} from step 2 (x {_x(study, donor)} then {_x(study, child)}): its "
        f"re-runs train x {_x(study, child)} from scratch, another schedule"
    )


def test_the_validate_top_summary_says_a_continuations_reruns_are_not_seed_repeats_of_its_score(tmp_path: Path) -> None:
    study, donor, child = _continued(tmp_path)
    summary = ts.validate_top(study, _reruns(STEADY), k=1, seeds=SEEDS, progress=False).summary()
    assert (
        f"#{child.number} continued #{donor.number} from step 2" in summary
        and "another schedule, not seed repeats of the run that scored 0.25 in the search" in summary
    ), summary


def test_a_continuation_of_a_continuation_is_named_with_every_stretch_of_its_schedule(tmp_path: Path) -> None:
    study = _pbt_study(tmp_path)
    root, middle, other, worst = (study.ask() for _ in range(4))
    for trial, losses in ((root, [0.5, 0.4]), (middle, [0.7, 0.65]), (other, [0.72, 0.66]), (worst, [0.95, 0.95])):
        _train(trial, losses)
    assert worst.should_stop()
    study.tell(worst)
    child = study.ask()  # continues the root from step 2
    for trial, losses in ((root, [0.38, 0.37]), (middle, [0.6, 0.59]), (child, [0.3, 0.25]), (other, [0.9, 0.95])):
        _train(trial, losses)
    assert other.should_stop()
    study.tell(other)
    grandchild = study.ask()  # continues the child, the best member, from step 4
    assert study.trials[grandchild.number].attrs["lineage"] == [root.number, child.number]
    _train(grandchild, [0.2, 0.15])
    for trial, loss in ((root, 0.37), (middle, 0.59), (child, 0.25), (grandchild, 0.15)):
        study.tell(trial, {"loss": loss})
    report = ts.validate_top(study, _reruns(STEADY), k=1, seeds=SEEDS, progress=False)
    assert report.candidates[0].note == (
        f"#{grandchild.number} continued #{child.number} from step 4, which continued #{root.number} from step 2 "
        f"(x {_x(study, root)} to step 2, {_x(study, child)} to step 4, then {_x(study, grandchild)}): its re-runs "
        f"train x {_x(study, grandchild)} from scratch, another schedule"
    )


def test_the_seed_check_on_a_continuations_reruns_passes_undecided_naming_its_lineage(tmp_path: Path) -> None:
    study, donor, child = _continued(tmp_path)
    check = _seed_check(study, STEADY)
    assert check.passed and not check.decided and not check.leans, check
    assert check.detail.startswith(f"#{child.number} continued #{donor.number} from step 2 ("), check.detail
    assert "cannot show that run stable across seeds: re-runs that replay the schedule" in check.detail


def test_a_seed_check_the_continuations_reruns_fail_still_fails_naming_its_lineage(tmp_path: Path) -> None:
    study, donor, child = _continued(tmp_path)
    check = _seed_check(study, [0.15, 0.25, 0.35])  # a spread of 40% on 3 seeds: beyond the limit, decided
    assert not check.passed and check.decided, check
    assert check.detail.startswith(f"#{child.number} continued #{donor.number} from step 2 ("), check.detail
    assert "results depend on the seed" in check.detail
