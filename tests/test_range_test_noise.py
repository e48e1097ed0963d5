"""The LR range test reads its suggestion from the bottom of a noisy curve, says how sure it is, and refuses a
step that does not train, that fails at once or that returns no loss, and a test too short to read, up front.

The curves are SGD on quadratics ``sum(L_i / 2 * x_i**2)``, which diverges above ``2 / max(L_i)``; the noisy
one adds unbiased Gaussian noise to each loss, as a mini-batch does.
"""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tunesmith.cli import cli
from tunesmith.errors import ConfigError
from tunesmith.lr import RangeTestError, RangeTestResult, range_test
from tunesmith.lr.range_test import MIN_READ_STEPS, StepReturnError

CURVATURES = np.logspace(-2, 0, 20)  # spread 100x; SGD diverges above 2 / 1 = 2
STABILITY_LIMIT = 2.0


def sgd_step(noise: float = 0.0, seed: int = 0) -> Callable[[float], float]:
    """``step(lr)``: the loss at the current point, then one SGD step at ``lr``; noise added to the loss alone."""
    rng = np.random.default_rng(seed)
    x = np.ones_like(CURVATURES)

    def step(lr: float) -> float:
        loss = float(0.5 * np.sum(CURVATURES * x * x))
        x[:] = x - lr * CURVATURES * x
        return loss + noise * float(rng.standard_normal())

    return step


def final_loss(lr: float, steps: int = 300) -> float:
    """The loss after ``steps`` SGD steps at the constant rate ``lr`` (inf once it diverges)."""
    x = np.ones_like(CURVATURES)
    for _ in range(steps):
        x = x - lr * CURVATURES * x
    return float(0.5 * np.sum(CURVATURES * x * x)) if np.all(np.isfinite(x)) else np.inf


def best_constant_rate() -> float:
    grid = np.logspace(-3, 0.5, 71)
    return float(grid[int(np.argmin([final_loss(lr) for lr in grid]))])


def noisy_results(seeds: range) -> list[RangeTestResult]:
    return [range_test(sgd_step(noise=0.5, seed=seed), min_lr=1e-5, max_lr=100, num_steps=300) for seed in seeds]


# A noisy floor ---------------------------------------------------------------------------------------------------


def test_suggestions_from_a_noisy_flat_floor_agree_within_a_factor_of_three() -> None:
    # The lowest point of the noisy trend lands anywhere on the floor: read from it, these ranged over 13x.
    suggestions = [result.suggested_lr for result in noisy_results(range(10))]
    assert max(suggestions) / min(suggestions) < 3


def test_suggestions_from_a_noisy_flat_floor_lie_within_ten_times_the_best_constant_rate() -> None:
    best = best_constant_rate()
    suggestions = [result.suggested_lr for result in noisy_results(range(10))]
    assert all(best / 10 <= s <= min(10 * best, STABILITY_LIMIT) for s in suggestions), (best, suggestions)


def test_bounds_from_a_noisy_flat_floor_hold_the_best_constant_rate() -> None:
    best = best_constant_rate()
    held = [b.low <= best <= b.high for b in (result.bounds() for result in noisy_results(range(10)))]
    assert sum(held) >= 9, held  # the suggestion's default bounds held it in 7 of these 10


def test_a_noisy_flat_floor_is_flagged_with_every_suggestion_its_bottom_allows() -> None:
    result = noisy_results(range(1))[0]
    low, high = result.suggested_range
    bottom_low, bottom_high = result.bottom_lrs
    assert result.flat_floor
    assert bottom_high / bottom_low > 10  # the floor is flat within noise over more than a decade
    assert (low, high) == pytest.approx((bottom_low / result.margin, bottom_high / result.margin))
    assert low < result.suggested_lr < high
    bounds = result.bounds()
    assert bounds.low <= low and high <= bounds.high
    assert result.to_json()["flat_floor"] is True and result.to_json()["suggested_range"] == [low, high]


def test_a_clear_bottom_is_not_flagged_and_keeps_the_suggestion_bounds() -> None:
    result = range_test(sgd_step(), min_lr=1e-5, max_lr=100, num_steps=300)
    low, high = result.bottom_lrs
    assert not result.flat_floor
    assert low <= result.onset_lr <= high
    bounds = result.bounds()
    assert (bounds.low, bounds.high) == pytest.approx((result.suggested_lr / 10, result.onset_lr))


def test_trend_noise_is_the_spread_of_the_running_median_of_the_noise() -> None:
    rng = np.random.default_rng(0)
    result = range_test(lambda lr: 1.0 + 0.1 * float(rng.standard_normal()), min_lr=1e-6, max_lr=1e-5, num_steps=2000)
    measured = float(np.std(result.trend[2:-2]))  # a median of 5 Gaussian values: 0.54 times their deviation
    assert 0.9 * measured < result.trend_noise() < 1.1 * measured


def test_a_noisy_loss_flat_up_to_max_lr_gives_no_onset() -> None:
    # The loss falls, then stays on its floor to max_lr: the lowest point of the noise is no onset of divergence.
    rng = np.random.default_rng(1)
    result = range_test(
        lambda lr: float(np.exp(-lr / 1e-3) + 0.01 * rng.standard_normal()), min_lr=1e-6, max_lr=1.0, num_steps=100
    )
    assert not result.diverged
    with pytest.raises(RangeTestError, match=r"still on its floor at max_lr=1 and never diverged.*raise max_lr"):
        _ = result.suggested_lr


# A noiseless ill-conditioned quadratic ---------------------------------------------------------------------------


@pytest.mark.parametrize("num_steps", [300, 400, 500])
def test_the_suggestion_on_a_noiseless_ill_conditioned_quadratic_trains_without_diverging(num_steps: int) -> None:
    # The lowest point lags further past the stability limit the more steps the test takes (3.7x at 100 steps, 8.5x
    # at 400): read from it, the suggestion diverged from 300 steps on.
    result = range_test(sgd_step(), min_lr=1e-5, max_lr=100, num_steps=num_steps)
    assert result.suggested_lr < STABILITY_LIMIT
    assert np.isfinite(final_loss(result.suggested_lr))


def test_the_suggestion_on_a_noiseless_ill_conditioned_quadratic_is_stable_across_num_steps() -> None:
    suggestions = [
        range_test(sgd_step(), min_lr=1e-5, max_lr=100, num_steps=n).suggested_lr for n in range(100, 501, 50)
    ]
    assert max(suggestions) / min(suggestions) < 1.5  # read from the lowest point: 2.3x


# Curves no rate can be read from --------------------------------------------------------------------------------


def test_a_loss_that_never_changes_says_the_step_does_not_train() -> None:
    result = range_test(lambda lr: 2.3, min_lr=1e-7, max_lr=10, num_steps=100)
    with pytest.raises(
        RangeTestError, match=r"the loss never changed \(2.3 at every one of its 100 steps.*optimizer.step\(\)"
    ):
        _ = result.suggested_lr


def test_a_loss_not_finite_at_the_first_step_says_so_with_its_rate() -> None:
    result = range_test(lambda lr: float("nan"), min_lr=1e-7, max_lr=10, num_steps=100)
    assert result.non_finite_step is not None and result.non_finite_step[0] == pytest.approx(1e-7)
    with pytest.raises(RangeTestError, match=r"the loss was not finite at the first step \(lr=1e-07: nan\)"):
        _ = result.suggested_lr


@pytest.mark.parametrize("num_steps", [5, MIN_READ_STEPS - 1])
def test_fewer_steps_than_a_rate_is_read_from_are_refused_before_any_step(num_steps: int) -> None:
    def step(lr: float) -> float:
        raise AssertionError("no step may run")

    with pytest.raises(
        ConfigError, match=rf"num_steps must be an integer >= {MIN_READ_STEPS}, got num_steps={num_steps}"
    ):
        range_test(step, num_steps=num_steps)


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, r"returned None: return the loss \(is `return loss` missing\?\)"),
        (np.ones(8), r"returned an array \(ndarray of shape \(8,\)\): return the batch's mean loss"),
        ("0.5", r"returned a str \('0.5'\): return the number"),
        (True, r"returned a bool \(True\): return the loss itself"),
        (np.bool_(False), r"returned a bool \(False\): return the loss itself"),
    ],
)
def test_a_step_that_returns_no_loss_is_refused_at_once_with_what_it_returned(returned: object, message: str) -> None:
    calls: list[float] = []

    def step(lr: float) -> object:
        calls.append(lr)
        return returned

    with pytest.raises(StepReturnError, match=r"step\(lr\) must return a finite float, the batch's mean loss, .*"):
        range_test(step, min_lr=1e-7, num_steps=100)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=message):
        range_test(step, min_lr=1e-7, num_steps=100)  # type: ignore[arg-type]
    assert len(calls) == 2  # refused at the first step of each test


def test_a_torch_step_that_returns_per_example_losses_is_refused() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    inputs, targets = torch.randn(8, 4), torch.randn(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(lr: float) -> object:
        optimizer.zero_grad()
        losses = torch.nn.functional.mse_loss(model(inputs), targets, reduction="none")  # one per example
        losses.mean().backward()
        optimizer.step()
        return losses

    with pytest.raises(
        StepReturnError, match=r"returned an array \(Tensor of shape \(8, 1\)\): return the batch's mean loss"
    ):
        range_test(step, num_steps=100)  # type: ignore[arg-type]


# tunesmith lr-find ------------------------------------------------------------------------------------------------

PROBE_SOURCE = """
import numpy as np

CURVATURES = np.logspace(-2, 0, 20)

def objective(trial):
    return trial.params["lr"]

def noisy_probe(params):
    rng = np.random.default_rng(0)
    x = np.ones_like(CURVATURES)
    def step(lr):
        loss = float(0.5 * np.sum(CURVATURES * x * x))
        x[:] = x - lr * CURVATURES * x
        return loss + 0.5 * float(rng.standard_normal())
    return step
"""


@pytest.fixture
def probe_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A directory with a probe module under a unique name; sys.path and sys.modules restored after."""
    module = f"lr_noise_probe_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(PROBE_SOURCE)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path, module
    sys.modules.pop(module, None)


def write_config(directory: Path, module: str, num_steps: int) -> Path:
    config = directory / "study.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            name = "noisy"
            objective = "{module}:objective"
            metric = "value"

            [lr_probe]
            function = "{module}:noisy_probe"
            min_lr = 1e-5
            max_lr = 100
            num_steps = {num_steps}

            [space]
            lr = {{ type = "float", low = 1e-4, high = 1.0, log = true }}
            """
        )
    )
    return config


def test_lr_find_says_the_floor_is_flat_and_where_the_suggestion_could_be(probe_module: tuple[Path, str]) -> None:
    directory, module = probe_module
    config = write_config(directory, module, num_steps=300)
    printed = CliRunner().invoke(cli, ["lr-find", str(config)])
    assert printed.exit_code == 0, printed.output
    assert "the floor is flat within noise: the suggestion could be anywhere in [" in " ".join(printed.output.split())
    data = json.loads(CliRunner().invoke(cli, ["lr-find", str(config), "--json"]).output)
    low, high = data["suggested_range"]
    assert data["flat_floor"] is True and low < data["suggestions"]["suggested"] < high
    assert data["bounds"]["low"] <= low and high <= data["bounds"]["high"]


@pytest.mark.parametrize("source", ["option", "config"])
def test_lr_find_refuses_fewer_steps_than_a_rate_is_read_from_before_running(
    probe_module: tuple[Path, str], source: str
) -> None:
    directory, module = probe_module
    too_few = MIN_READ_STEPS - 1
    config = write_config(directory, module, num_steps=too_few if source == "config" else 100)
    extra = ["--num-steps", str(too_few)] if source == "option" else []
    result = CliRunner().invoke(cli, ["lr-find", str(config), *extra])
    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert f"{too_few} is not in the range x>={MIN_READ_STEPS}" in output or (
        f"num_steps must be an integer >= {MIN_READ_STEPS}, got num_steps={too_few}" in output
    )
    assert module not in sys.modules  # refused before the probe was imported


# The steepest point and one run's range --------------------------------------------------------------------------
# sgd_step adds its noise to the reported loss alone, so every seed and noise level trains the same model along the
# same curve: the noiseless curve's steepest rate is the one a noisy test should find, or else say it cannot.


def test_the_steepest_rate_of_a_loss_whose_fall_is_within_its_noise_is_undecided() -> None:
    # Read with no noise check, these ten seeds put it anywhere from 4e-05 to 0.66: where the noise dipped most.
    assert [result.steepest_lr for result in noisy_results(range(10))] == [None] * 10


def test_an_undecided_steepest_rate_is_not_offered_among_the_suggestions() -> None:
    result = noisy_results(range(1))[0]
    assert "steepest" not in result.suggestions
    assert "steepest" not in result.to_json()["suggestions"] and result.to_json()["steepest_lr"] is None


def test_every_steepest_rate_given_lies_within_ten_times_the_noiseless_one() -> None:
    noiseless = range_test(sgd_step(), min_lr=1e-5, max_lr=100, num_steps=300).steepest_lr
    assert noiseless is not None
    given = [
        steepest
        for noise in (0.01, 0.05, 0.1, 0.5)
        for seed in range(10)
        if (steepest := range_test(sgd_step(noise, seed), min_lr=1e-5, max_lr=100, num_steps=300).steepest_lr)
        is not None
    ]
    assert len(given) >= 10  # the quieter losses do give one
    assert all(noiseless / 10 <= lr <= noiseless * 10 for lr in given), (noiseless, sorted(given))


QUADRATIC_PROBE_SOURCE = """
import numpy as np

CURVATURES = np.logspace(-2, 0, 20)

def objective(trial):
    return trial.params["lr"]

def probe(params):
    rng = np.random.default_rng(0)
    x = np.ones_like(CURVATURES)
    def step(lr):
        loss = float(0.5 * np.sum(CURVATURES * x * x))
        x[:] = x - lr * CURVATURES * x
        return loss + params["noise"] * float(rng.standard_normal())
    return step
"""


def lr_find_output(directory: Path, noise: float) -> str:
    """What ``tunesmith lr-find`` prints for SGD on the quadratic with ``noise`` added to its loss, on one line."""
    module = f"lr_quadratic_probe_{uuid.uuid4().hex[:8]}"
    (directory / f"{module}.py").write_text(QUADRATIC_PROBE_SOURCE)
    config = directory / "study.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            name = "quadratic"
            objective = "{module}:objective"
            metric = "value"

            [lr_probe]
            function = "{module}:probe"
            min_lr = 1e-5
            max_lr = 100
            num_steps = 300
            params = {{ noise = {noise} }}

            [space]
            lr = {{ type = "float", low = 1e-4, high = 1.0, log = true }}
            """
        )
    )
    try:
        printed = CliRunner().invoke(cli, ["lr-find", str(config)])
    finally:
        sys.modules.pop(module, None)
    assert printed.exit_code == 0, printed.output
    return " ".join(printed.output.split())


def test_lr_find_says_the_steepest_rate_is_undecided_instead_of_printing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    output = lr_find_output(tmp_path, noise=0.5)
    assert "steepest: undecided (the loss's fall is within its noise" in output
    assert output.count("steepest") == 1  # no row of the table


@pytest.mark.parametrize("noise", [0.0, 0.5])  # a clear bottom, and a floor flat within noise
def test_lr_find_says_the_range_of_suggestions_is_read_from_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, noise: float
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    output = lr_find_output(tmp_path, noise)
    assert "from one run: another seed's suggestion may fall outside it" in output
