"""Re-runs that gave the same result on every seed measured no seed noise: the training is deterministic, or the
objective does not read ``trial.seed`` (a forgotten ``random_state=trial.seed``). `validate_top` and the verdict's
seed-stability check said "+- 0" and passed, as if the configuration were perfectly stable; they now say why the
runs agree and what to pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import tunesmith as ts
from tunesmith.discipline._reruns import ExampleValues, SeedRun, seed_blind
from tunesmith.report._data import report_data, tie_note

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
ERROR = ts.Metric("error")
EXAMPLES = 200


def wrong(x: float, rng: np.random.Generator) -> np.ndarray:
    """Which of the validation examples a model of quality ``x`` gets wrong, drawn with ``rng``."""
    return (rng.random(EXAMPLES) < 0.05 + 0.1 * x).astype(float)


def ignores_the_seed(trial: ts.Trial) -> dict[str, np.ndarray]:
    return {"error": wrong(trial.params["x"], np.random.default_rng(0))}  # random_state=0, not trial.seed


def reads_the_seed(trial: ts.Trial) -> dict[str, np.ndarray]:
    return {"error": wrong(trial.params["x"], np.random.default_rng(trial.seed))}


def holdout(params: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    return {"holdout_error": wrong(params["x"], np.random.default_rng(seed + 1))}


def judged(objective: Callable[[ts.Trial], dict[str, np.ndarray]]) -> tuple[str, str, str]:
    """`validate_top`'s summary, the verdict's seed-stability detail and what status says of the trials tied with
    the best, for a study of ``objective``."""
    study = ts.Study(SPACE, metric=ERROR, budget=ts.Budget(trials=12), storage="memory", seed=0, sampler="random")
    study.optimize(objective, progress=False)
    report = ts.validate_top(study, objective, k=2, seeds=3, progress=False)
    check = ts.finalize(study, holdout, progress=False).check("seed stability")
    assert check.checked and check.passed
    return report.summary(), check.detail, tie_note(report_data(study)) or ""


def test_runs_alike_on_every_seed_are_said_to_measure_no_seed_noise_with_the_fix() -> None:
    summary, detail, tied = judged(ignores_the_seed)
    assert ("each of 2 candidates gave the same error and the same per-example values on every seed it ran: its "
            "training does not seem to depend on the seed, being deterministic, or run by an objective that does not "
            "read trial.seed (random_state=trial.seed") in summary  # fmt: skip
    assert "its 6 runs gave the same error and the same per-example values on every seed" in detail
    assert "so this spread measures no seed noise" in detail
    # More re-runs would repeat the same results: status no longer advises them for the trials left out.
    assert "were not re-run, and re-runs would not tell them apart" in tied and "ts.validate_top(" not in tied


def test_runs_that_the_seed_moves_say_nothing_of_it() -> None:
    summary, detail, tied = judged(reads_the_seed)
    assert "on every seed it ran" not in summary and "measures no seed noise" not in detail
    assert "re-runs would not tell them apart" not in tied and "ts.validate_top(study, objective, k=" in tied


def run(candidate: int, seed: int, error: float, examples: list[float] | None = None) -> SeedRun:
    kept = None if examples is None else ExampleValues.of(examples)
    return SeedRun(candidate, seed, "complete", {"error": error}, examples=kept)


def test_one_configuration_the_seed_moves_shows_the_objective_reads_it() -> None:
    alike = [run(1, 0, 0.1), run(1, 1, 0.1), run(2, 0, 0.2), run(2, 1, 0.2)]
    assert seed_blind(alike, "error") == (2, "")
    assert seed_blind([*alike[:2], run(2, 0, 0.2), run(2, 1, 0.25)], "error") is None
    assert seed_blind([run(1, 0, 0.1), run(2, 0, 0.2)], "error") is None  # none ran on two seeds


def test_the_same_rate_from_other_examples_is_no_repeat() -> None:
    assert seed_blind([run(1, 0, 0.5, [1.0, 0.0]), run(1, 1, 0.5, [0.0, 1.0])], "error") is None
    assert seed_blind([run(1, 0, 0.5, [1.0, 0.0]), run(1, 1, 0.5, [1.0, 0.0])], "error") == (
        1, " and the same per-example values")  # fmt: skip
