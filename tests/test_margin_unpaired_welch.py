"""The baseline margin on re-runs that share no seeds with the baseline's is Welch's one-sided t-test of the two
means: one seed standard deviation as the bar passed two configurations alike 14% of the time on three seeds each."""

from __future__ import annotations

import numpy as np

import tunesmith as ts
from tunesmith.attributes import BaselineAttr
from tunesmith.discipline._margin import _Rerun, _Welch
from tunesmith.discipline._reruns import seed_list


def _false_passes(winner_seeds: int, base_seeds: int, winner_sd: float, base_sd: float, draws: int) -> float:
    """How often two configurations alike pass the bar: the winner's mean less the baseline's beyond it."""
    rng = np.random.default_rng(0)
    passes = 0
    for _ in range(draws):
        winner = rng.normal(0.0, winner_sd, winner_seeds)
        base = rng.normal(0.0, base_sd, base_seeds)
        rerun = _Rerun(float(winner.mean()), float(winner.std(ddof=1)), "re-runs", True, winner_seeds, winner_seeds)
        baseline = BaselineAttr(params={}, values=tuple(base.tolist()), mean=float(base.mean()),
                                std=float(base.std(ddof=1)))  # fmt: skip
        passes += winner.mean() - base.mean() > _Welch.of(rerun, baseline).bar()
    return passes / draws


def test_two_configurations_alike_pass_the_unpaired_margin_at_its_level() -> None:
    # 3000 draws: a 5% rate reads below 6.0% (2.5 standard errors of 0.4%); Welch's degrees of freedom, read from
    # the spreads, make it a little conservative on few seeds (3.9% on three each), never lax.
    assert 0.030 <= _false_passes(3, 3, 1.0, 1.0, 3000) <= 0.060
    assert 0.030 <= _false_passes(5, 8, 2.0, 0.5, 3000) <= 0.060


def test_a_gain_of_one_seed_standard_deviation_on_three_seeds_each_is_undecided() -> None:
    """The winner confirmed on three fresh seeds, the baseline evaluated afterwards on the three that picked it:
    means 0.835 and 0.800, both spreads 0.03. One seed standard deviation as the bar called it a gain."""
    selection, fresh = seed_list(7, 3), seed_list(7, 6)[3:]
    confirmed = dict(zip(fresh, (0.805, 0.835, 0.865), strict=True))
    base = dict(zip(selection, (0.77, 0.80, 0.83), strict=True))

    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.params["c"] == "base":
            return {"acc": base[trial.seed]}
        if trial.seed in confirmed:
            return {"acc": confirmed[trial.seed]}
        return {"acc": 0.9 if trial.params["c"] == "a" else 0.85}

    study = ts.Study(ts.Space({"c": ts.Choice(["a", "b", "c"])}), metric=ts.Metric("acc", "max"), sampler="grid",
                     budget=ts.Budget(trials=3), storage="memory", seed=7)  # fmt: skip
    study.optimize(objective, progress=False)
    ts.validate_top(study, objective, k=3, seeds=3, progress=False)
    ts.evaluate_baseline(study, objective, {"c": "base"}, seeds=3, progress=False)
    check = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.83}, progress=False).check("baseline margin")
    assert "(confirmation mean over 3 fresh seeds after the pick)" in check.detail, check.detail
    assert "better by 0.035, seed noise 0.03 over the winner's 3 runs and 0.03 over the baseline's 3 seeds" in (
        check.detail)
    assert not check.passed and not check.decided
