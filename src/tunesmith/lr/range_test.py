"""The learning-rate range test (Smith, 2017): find where training starts to diverge.

Take one training step at each of ``num_steps`` learning rates that rise exponentially from
``min_lr`` to ``max_lr``, record the loss, and stop once the loss diverges. The curve of loss
against learning rate falls while the rate is too small to matter, bottoms out, and shoots up
once the rate is too large; a good rate lies slightly below the bottom.

Example:
    >>> import tunesmith as ts
    >>> state = {"x": 1.0}
    >>> def step(lr):                      # SGD on f(x) = 2 x**2 (curvature 4: diverges above 0.5)
    ...     state["x"] -= lr * 4 * state["x"]
    ...     return 2 * state["x"] ** 2
    >>> result = ts.lr.range_test(step, min_lr=1e-5, max_lr=10, num_steps=100)
    >>> bool(result.suggested_lr < 0.5)
    True
"""

from __future__ import annotations

import functools
import math
import numbers
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.space import Float

__all__ = ["RangeTestError", "RangeTestResult", "StepReturnError", "range_test"]


# The fewest steps a rate is read from: the trend (a centred median of 5) and the step-to-step noise need
# more points than a handful to tell a fall from noise (5 to 7 steps of a noiseless curve were read as noise).
MIN_READ_STEPS = 15

# The step-to-step noise is the MAD of the loss's differences, scaled to a standard deviation (1 / 0.6745).
_MAD_TO_SD = 1.4826

# When most differences tie (a discrete loss) their MAD is 0, and a standard deviation of their deviations from
# their median, the largest tenth left out (spikes), stands in. Over 300 tests of pure noise each, a rate was
# suggested for a mini-batch error rate (8 examples) in 1 and for a loss logged to 2 decimals in 2 (37 and 83
# with the MAD alone, which read their noise as 0); continuous noise and curves that learn were read as before.
NOISE_TRIMMED_SHARE = 0.1

# The bottom of the curve is every rate whose trend lies within this many of the trend's noise standard deviations of
# its lowest value: the rates the test cannot tell from the lowest. On a flat floor of pure noise (100 steps) those
# rates spanned 97% of it on average and 93% or more in 9 of 10 tests (at 2 deviations, 90% and 77%).
BOTTOM_IN_NOISE = 3.0


class RangeTestError(TunesmithError, RuntimeError):
    """A range test saw no usable range (too few steps, or a loss that never fell)."""


class StepReturnError(RangeTestError, TypeError):
    """``step(lr)`` returned something that is not a loss (None, an array, a string, a bool)."""


def _trimmed_sd(deviations: np.ndarray, share: float) -> float:
    """The root mean square of sorted absolute ``deviations`` without their largest ``share``, divided by what
    it is for a standard normal variable (kept fraction ``f``: ``1 - 2 c phi(c) / f``, ``c`` its two-sided
    quantile), so that it estimates a standard deviation."""
    keep = len(deviations) - int(share * len(deviations))
    kept = keep / len(deviations)
    normal = NormalDist()
    edge = normal.inv_cdf((1 + kept) / 2) if kept < 1 else math.inf
    second_moment = 1 - 2 * edge * normal.pdf(edge) / kept if kept < 1 else 1.0
    return math.sqrt(float(np.mean(deviations[:keep] ** 2)) / second_moment)


@functools.cache
def _median_sd(window: int) -> float:
    """The standard deviation of the median of ``window`` (odd) independent standard normal values, from the density
    of their middle order statistic: how much a centred running median over ``window`` points of Gaussian noise
    varies (0.54 for 5 points; 1 for one)."""
    if window <= 1:
        return 1.0
    below = window // 2  # values on each side of the median
    grid = np.linspace(-8.0, 8.0, 4001)
    normal = NormalDist()
    cdf = np.array([normal.cdf(float(x)) for x in grid])
    pdf = np.exp(-(grid**2) / 2) / math.sqrt(2 * math.pi)
    density = math.comb(window, below) * (window - below) * cdf**below * (1 - cdf) ** below * pdf
    return math.sqrt(float(np.trapezoid(grid**2 * density, grid)))


def _centred_median(values: np.ndarray, window: int) -> np.ndarray:
    """A running median over ``window`` points centred on each point (narrower at the edges): no lag."""
    half = window // 2
    return np.array([np.median(values[max(0, i - half) : i + half + 1]) for i in range(len(values))])


def _difference_sd(differences: np.ndarray) -> float:
    """The standard deviation of ``differences`` (of the losses, of any order): their MAD, or, when most of them tie
    (a loss with few distinct values), their standard deviation without the largest tenth (spikes); both scaled to
    estimate a standard deviation under Gaussian noise."""
    if len(differences) < 2:
        return 0.0
    deviations = np.sort(np.abs(differences - np.median(differences)))
    mad = float(np.median(deviations))
    if mad > 0:
        return _MAD_TO_SD * mad
    return _trimmed_sd(deviations, NOISE_TRIMMED_SHARE)


def _step_noise(steps: np.ndarray) -> float:
    """The standard deviation of the loss from one step to the next, from its differences ``steps`` (a difference
    of two independent losses varies sqrt(2) times as much as each)."""
    return _difference_sd(steps) / math.sqrt(2)


def _steps_upto(losses: np.ndarray, upto: int | None) -> np.ndarray:
    """The differences between consecutive losses up to step ``upto`` (all of them for ``upto`` below 3)."""
    return np.diff(losses[: (upto + 1 if upto is not None and upto >= 3 else len(losses))])


def _second_difference_noise(losses: np.ndarray) -> float:
    """The standard deviation of ``losses`` from their second differences (each a sum of three losses weighted 1, -2,
    1, which varies sqrt(6) times as much as one loss): unlike first differences, they leave out the trend's slope,
    which changes fastest around the bottom (first differences read there took it for noise and called a noiseless
    curve's floor flat)."""
    return _difference_sd(np.diff(losses, 2)) / math.sqrt(6) if len(losses) > 3 else 0.0


def _noise_around(losses: np.ndarray, at: int) -> float:
    """The step-to-step noise around step ``at``: read from the losses within `MIN_READ_STEPS` steps of it (fewer at
    the ends), or from every step up to it where that is larger.

    The noise of a mini-batch loss grows with the rate, so the bottom's is read at the bottom: read over every step
    up to it, the low rates' calm steps set it (0.026 on the shipped example's seed 3, where the 15 steps before the
    bottom showed 0.073) and the bottom came out one rate wide. Read from about 30 second differences the noise is
    itself uncertain; the larger of the two readings is the cautious one, so the bottom is never narrower than the
    noise of every step up to it makes it.
    """
    near = _second_difference_noise(losses[max(0, at - MIN_READ_STEPS - 1) : at + MIN_READ_STEPS + 2])
    return max(near, _step_noise(_steps_upto(losses, at)))


def _noise_before(losses: np.ndarray, at: int) -> float:
    """The step-to-step noise of the losses up to step ``at``: over the `MIN_READ_STEPS` steps that lead into it, or
    over all of them where that is larger (over the first `MIN_READ_STEPS` when fewer precede it). A rise is judged
    on the noise before it: the rise of a loss that blows up would read as noise itself."""
    near = _second_difference_noise(losses[max(0, at - MIN_READ_STEPS - 1) : at + 1])
    return max(near, _step_noise(np.diff(losses[: max(at, MIN_READ_STEPS) + 1])))


def _rise(trend: np.ndarray) -> tuple[int, float, float]:
    """The step of the trend's lowest value, that value, and how far the trend rises after it."""
    lowest = int(np.argmin(trend))
    floor = float(trend[lowest])
    return lowest, floor, float(np.max(trend[lowest:])) - floor


def _rose_past(losses: np.ndarray, trend: np.ndarray, factor: float, noises: float) -> bool:
    """Whether the trend rose past ``factor`` times its lowest value by more than ``noises`` times the step-to-step
    noise before it (`_noise_before`; abs() lets a loss go negative). A factor of inf never diverges."""
    lowest, floor, rise = _rise(trend)
    past = rise - (factor - 1) * abs(floor) if math.isfinite(factor) else -math.inf
    return past > 0 and past > noises * _noise_before(losses, lowest)


@dataclass(frozen=True, eq=False)
class RangeTestResult:
    """The curve a range test recorded and the learning rates it suggests.

    The suggestions are read from the bottom of the curve, not from its lowest point: on a noisy loss the lowest
    point of a flat floor is luck. The bottom is every rate whose trend lies within `BOTTOM_IN_NOISE` of the
    trend's noise standard deviations of its lowest value, that noise read within `MIN_READ_STEPS` steps of the
    lowest point (a mini-batch loss grows noisier as the rate rises); the onset is its middle rate, and
    `bottom_lrs`, `suggested_range` and `flat_floor` say how sure that reading is. They say it from this one
    run's noise alone: another seed's curve (other batches, another initialisation) can put its suggestion outside
    them, so run the test again with another seed to check. `steepest_lr` is ``None`` (undecided) when no fall of
    the trend across ``window`` steps beats the loss's noise.

    Attributes:
        lrs: the learning rate of each step taken.
        losses: the loss each step returned.
        smoothed: the bias-corrected exponential moving average of the losses, of short memory: once it exceeds
            ``diverge_factor`` times its best, the stop rule asks whether the trend diverged (`diverged`).
        trend: a centred running median of the losses, free of the moving average's lag; the
            suggestions are read from it.
        stop_reason: why the test ended (``"diverged"``, ``"non-finite loss"``, ``"max_lr reached"``); a test
            that reached ``max_lr`` may still have diverged (`diverged`).
        margin: the factor between the divergence onset and `suggested_lr`.
        window: the points of the running median that made ``trend`` (its noise depends on them).
        non_finite_step: ``(lr, loss)`` of the step whose non-finite loss ended the test (not in ``lrs``), if any.
        diverge_factor: how far past its lowest value the trend must rise to have diverged (see `diverged`).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    trend: np.ndarray
    stop_reason: str
    margin: float = 5.0
    window: int = 5
    non_finite_step: tuple[float, float] | None = None
    diverge_factor: float = 4.0

    @property
    def diverged(self) -> bool:
        """Whether the test saw the loss diverge (if not, raise ``max_lr`` to see the whole curve): it went
        non-finite, or its trend rose past ``diverge_factor`` times its lowest value by more than `FALL_IN_NOISE`
        times the step-to-step noise of the losses up to that lowest value.

        It is judged on the whole curve, after the run: a moving average's best lags the loss's minimum by its
        memory, and when the stop rule's average (a memory of 50 steps) decided it, the test reported no divergence
        for 3 of 10 seeds of a mini-batch MLP with SGD (5 of 10 with Adam, 10 of 10 for a small CNN with Adam)
        whose trend rose 9 to 87 times past its minimum; judged on the trend, 0, 0 and 1 of those 10 (that one's
        rose 4.8 times, not past 4 times by more than its noise margin).
        """
        if self.stop_reason != "max_lr reached":
            return True
        return len(self.trend) > 0 and _rose_past(self.losses, self.trend, self.diverge_factor, FALL_IN_NOISE)

    def _check_recorded(self) -> None:
        """Refuse a curve no rate can be read from, before its noise is looked at."""
        if not len(self.lrs) and self.non_finite_step is not None:
            lr, loss = self.non_finite_step
            raise RangeTestError(
                f"the loss was not finite at the first step (lr={lr:.3g}: {loss}), so no curve was recorded: the step "
                "fails before the rate can matter - check the loss on one batch at a tiny rate (log(0), a division "
                "by zero, NaN or inf in the data or in the model's initial weights)"
            )
        if len(self.lrs) < MIN_READ_STEPS:
            fix = "lower min_lr" if self.diverged else "raise num_steps (100 is usual)"
            raise RangeTestError(
                f"the range test took only {len(self.lrs)} steps before it stopped ({self.stop_reason}) "
                f"at lr={self.lrs[-1] if len(self.lrs) else float('nan'):.3g}; a rate is read from at least "
                f"{MIN_READ_STEPS}, since fewer cannot tell the loss's fall from its noise: {fix}"
            )
        if np.all(self.losses == self.losses[0]):
            raise RangeTestError(
                f"the loss never changed ({self.losses[0]:.6g} at every one of its {len(self.losses)} steps, lr "
                f"{self.lrs[0]:.3g} to {self.lrs[-1]:.3g}): step(lr) does not train the model - check that it calls "
                "optimizer.step() (or applies its update) with the rate lr, and returns that step's loss"
            )

    def _bottom(self) -> np.ndarray:
        """The steps of the bottom, in order: those whose trend lies within `BOTTOM_IN_NOISE` trend noises (read
        near its lowest value) of that lowest value, after the checks that a rate can be read at all. The fall is
        checked before any advice on the rates tried: where the lowest point of a curve that never clearly fell
        lands is luck (on pure noise it landed at the first or the last steps in 28 of 300 tests, which were told
        to lower min_lr or raise max_lr)."""
        self._check_recorded()
        lowest = int(np.argmin(self.trend))
        fall, noise = float(self.trend[0] - self.trend[lowest]), self.step_noise(lowest)
        steps = self._steps(lowest)
        if noise == 0 and (moved := int(np.count_nonzero(steps != np.median(steps)))):
            raise RangeTestError(
                f"the loss's step-to-step noise cannot be estimated: up to lr {self.lrs[lowest]:.3g} only {moved} of "
                f"its {len(steps)} step-to-step changes differ from the rest, which tie (a loss with few distinct "
                f"values, such as a mini-batch error rate or a loss logged to a few decimals), so its fall of "
                f"{fall:.3g} cannot be told from noise and no rate can be read: return the loss at full precision, "
                "or average it over more examples (a larger batch)"
            )
        region = self._within_noise_of(lowest)
        if fall <= FALL_IN_NOISE * noise:
            _, _, rise = _rise(self.trend)
            rise_noise = _noise_before(self.losses, lowest)
            if region[-1] < MIN_READ_STEPS and rise > FALL_IN_NOISE * rise_noise:
                # Too few steps lie on the floor to read a fall from, and the loss then clearly rose: the first
                # rates are already too large. A longer floor that never fell is a loss the rate does not move.
                raise RangeTestError(
                    f"the loss never fell below its value at min_lr={self.lrs[0]:.3g} by more than its noise, and its "
                    f"trend rose by {rise:.3g} (over {FALL_IN_NOISE:g} times its step-to-step noise {rise_noise:.3g}) "
                    f"after only {region[-1] + 1} steps within noise of its lowest value (lr {self.lrs[0]:.3g} to "
                    f"{self.lrs[region[-1]]:.3g}): the first rates are already too large; lower min_lr so the test "
                    "starts where the rate is too small to matter"
                )
            raise RangeTestError(
                f"the loss never clearly fell: its trend dropped by {fall:.3g} (lr {self.lrs[0]:.3g} to "
                f"{self.lrs[lowest]:.3g}), within {FALL_IN_NOISE:g} times its step-to-step noise {noise:.3g}, so the "
                "curve is noise and no rate can be read from it: check that step(lr) trains the model at lr and "
                "returns that step's loss, or steady the loss (a larger batch)"
            )
        if not self.diverged and lowest >= len(self.trend) - 2:
            raise RangeTestError(
                f"the loss was still falling at max_lr={self.lrs[-1]:.3g} and never diverged, so the onset lies "
                "above the rates tried and no bound can be read: raise max_lr until the loss blows up"
            )
        # Only a rise before a non-finite loss shows divergence. A trend lowest at its last finite steps whose bottom
        # lies within the window's reach of the end fell beyond its noise up to the cut: the curve was cut short. A
        # noisy floor whose lowest point lands there by chance is no such fall (0 of 200 such floors were refused).
        still_falling = lowest >= len(self.trend) - 2 and region[0] >= len(self.trend) - self.window
        if self.non_finite_step is not None and still_falling:
            lr, loss = self.non_finite_step
            raise RangeTestError(
                f"the loss went non-finite ({loss}) at lr={lr:.3g} while still falling: its trend fell by {fall:.3g} "
                f"and was lowest at its last finite steps (lr {self.lrs[-1]:.3g}), so the test never saw it rise and "
                "no onset can be read; a NaN or inf with no rise before it is most often a bad batch or a loss that "
                "overflows: check the data and the loss for NaN or inf (log(0), a division by zero) and run again, "
                "or, if training blows up in one step there, clip gradients (or compute the loss in float32) so the "
                "rise shows before the overflow"
            )
        if not self.diverged and region[-1] >= len(self.trend) - 2:
            raise RangeTestError(
                f"the loss was still on its floor at max_lr={self.lrs[-1]:.3g} and never diverged: its trend stays "
                f"within {BOTTOM_IN_NOISE:g} times its noise of its lowest value from lr {self.lrs[region[0]]:.3g} "
                "on, so the onset lies above the rates tried and no bound can be read: raise max_lr until the loss "
                "blows up"
            )
        return region

    def _within_noise_of(self, lowest: int) -> np.ndarray:
        """The steps whose trend lies within `BOTTOM_IN_NOISE` trend noises of its value at ``lowest``, the noise
        read there (`_noise_around`)."""
        near = _noise_around(self.losses, lowest) * _median_sd(self.window)
        return np.flatnonzero(self.trend <= self.trend[lowest] + BOTTOM_IN_NOISE * near)

    def _steps(self, upto: int | None) -> np.ndarray:
        """The differences between consecutive losses up to step ``upto`` (all of them for ``upto`` below 3)."""
        return _steps_upto(self.losses, upto)

    def step_noise(self, upto: int | None = None) -> float:
        """The standard deviation of the loss from one step to the next, from the deviations of its differences
        (up to step ``upto``) from their median: robust to the trend and to a few outliers.

        The estimate is the median of those deviations (the differences' MAD). A loss with few distinct values
        (a mini-batch error rate, a loss logged to 2 decimals) ties most of its differences, which makes that
        median 0 whatever the noise; then the deviations' standard deviation with their largest tenth left out
        (spikes) stands in, which is 0 only when at most a tenth of the differences move. Both are scaled to
        estimate the noise's standard deviation under Gaussian noise.
        """
        return _step_noise(self._steps(upto))

    def trend_noise(self, upto: int | None = None) -> float:
        """The standard deviation of the trend's noise: `step_noise` (up to step ``upto``) times that of a median
        of ``window`` Gaussian values (0.54 for the default 5)."""
        return self.step_noise(upto) * _median_sd(self.window)

    @property
    def bottom_lrs(self) -> tuple[float, float]:
        """The lowest and highest rates of the bottom: those whose trend lies within `BOTTOM_IN_NOISE` trend noises
        of its lowest value, which the test cannot tell from the lowest point. The onset could be anywhere here."""
        region = self._bottom()
        return float(self.lrs[region[0]]), float(self.lrs[region[-1]])

    @property
    def onset_lr(self) -> float:
        """Where the loss starts to diverge, read as the middle rate of the bottom (`bottom_lrs`): on a flat, noisy
        floor the lowest point lands anywhere, and on a noiseless one it lags further past the stability limit the
        more steps the test takes."""
        region = self._bottom()
        return float(self.lrs[region[(len(region) - 1) // 2]])

    @property
    def suggested_lr(self) -> float:
        """Below where the loss starts to diverge: ``onset_lr / margin`` (see `range_test` for the margin)."""
        return self.onset_lr / self.margin

    @property
    def suggested_range(self) -> tuple[float, float]:
        """Every suggestion the bottom allows: `bottom_lrs` divided by ``margin``.

        It is read from one run, from that run's noise near the bottom: another seed's suggestion (other batches,
        another initialisation) may fall outside it. Over 20 seeds of the shipped example's MLP (SGD with momentum,
        batch 64, on digits), a seed's range held 378 of the 380 other seeds' suggestions; for a small CNN trained
        the same way, whose suggestions spread 5.3x across seeds, 225 of 380 (59%), and 9 of its 20 ranges held
        under half of the others' (with Adam: 75% for the MLP, 93% for the CNN). Run the test again with another
        seed to check. The default `bounds` are wider: they missed 2 of those 380 on the CNN, none on the MLP.
        """
        low, high = self.bottom_lrs
        return low / self.margin, high / self.margin

    @property
    def flat_floor(self) -> bool:
        """Whether the floor is flat within noise beyond what the suggestion's default `bounds` span: the bottom
        allows a suggestion below ``suggested_lr / 10`` or above ``onset_lr``, so `bounds` widens to cover it."""
        low, high = self.suggested_range
        return low < self.suggested_lr / 10 or high > self.onset_lr

    def _steepest(self) -> tuple[int, float]:
        """The step before the bottom whose trend falls most across the ``window`` steps centred on it, and that
        fall in step-to-step noises (the noise the fall of the whole curve is judged by)."""
        start = int(self._bottom()[0])
        reach = max(1, self.window // 2)  # a window of 1 still needs a neighbour each side to show a fall
        last = len(self.trend) - 1
        centres = np.arange(start + 1)
        falls = self.trend[np.maximum(centres - reach, 0)] - self.trend[np.minimum(centres + reach, last)]
        steepest = int(np.argmax(falls))
        fall, noise = float(falls[steepest]), self.step_noise(int(np.argmin(self.trend)))
        return steepest, (fall / noise if noise > 0 else (math.inf if fall > 0 else 0.0))

    @property
    def steepest_fall_in_noise(self) -> float:
        """The largest fall of the trend across ``window`` steps before the bottom, in step-to-step noises
        (`step_noise`): `steepest_lr` is read only where it exceeds `FALL_IN_NOISE`."""
        return self._steepest()[1]

    @property
    def steepest_lr(self) -> float | None:
        """The rate where the trend falls most across ``window`` steps (before the bottom), or ``None``: undecided.

        The steepest point of a noisy curve is where the noise dips most, not the loss: read with no noise check,
        it spanned 1.2e-05 to 0.103 over 20 seeds of a mini-batch MLP (11 of 20 below 1e-3, where the loss had
        barely moved). It is given only where that fall exceeds `FALL_IN_NOISE` step-to-step noises, as the whole
        curve's fall must. To decide it, steady the loss (a larger batch), or let each ``window`` of steps span more
        rates: fewer ``num_steps`` or a wider ``window`` (on that MLP, given in 0 of 20 seeds at 300 steps, batch 128;
        18 of 20 at 100 steps; 11 of 20 at batch 32 with a window of 21).
        """
        steepest, fall_in_noise = self._steepest()
        return float(self.lrs[steepest]) if fall_in_noise > FALL_IN_NOISE else None

    @property
    def min_div_10_lr(self) -> float:
        """The classic rule of thumb, the rate at the lowest loss divided by 10, with the onset standing in for that
        rate (the lowest point of a noisy floor is luck)."""
        return self.onset_lr / 10.0

    @property
    def suggestions(self) -> dict[str, float]:
        """Every suggestion by name: ``suggested``, ``steepest`` (left out while `steepest_lr` is undecided),
        ``min_div_10`` and the ``onset``."""
        steepest = self.steepest_lr
        return {
            "suggested": self.suggested_lr,
            **({} if steepest is None else {"steepest": steepest}),
            "min_div_10": self.min_div_10_lr,
            "onset": self.onset_lr,
        }

    def bounds(self, below: float = 10.0, above: float | None = None) -> Float:
        """A log-scale `Float` around the suggestion, to put in a `Space`, widened to hold every suggestion the
        bottom allows (`suggested_range`) when the floor is flat within noise.

        Args:
            below: the range starts at ``suggested_lr / below`` (or lower, at the lowest suggestion the bottom
                allows).
            above: the range ends at ``suggested_lr * above`` (or higher, at the highest suggestion the bottom
                allows); default ``margin``, i.e. at the onset of divergence.

        Returns:
            ``Float(min(suggested_lr / below, low), max(suggested_lr * above, high), log=True)``, where
            ``(low, high)`` is `suggested_range`.
        """
        up = self.margin if above is None else above
        for name, value in (("below", below), ("above", up)):
            real(name, value, minimum=1, context="bounds", fix=f"pass a factor such as {name}=10")
        if below == 1 and up == 1:
            raise ConfigError("bounds: below and above cannot both be 1 (an empty range): pass below=10")
        suggested, (low, high) = self.suggested_lr, self.suggested_range
        return Float(min(suggested / below, low), max(suggested * up, high), log=True)

    def to_json(self) -> dict[str, Any]:
        """The curve and the suggestions as JSON-serialisable values."""
        out: dict[str, Any] = {
            "lrs": self.lrs.tolist(),
            "losses": self.losses.tolist(),
            "smoothed": self.smoothed.tolist(),
            "trend": self.trend.tolist(),
            "stop_reason": self.stop_reason,
            "margin": self.margin,
        }
        try:
            out["suggestions"] = self.suggestions
            out["steepest_lr"] = self.steepest_lr  # null: undecided, the fall is within the noise
            out["steepest_fall_in_noise"] = self.steepest_fall_in_noise
            out["bottom_lrs"] = list(self.bottom_lrs)
            out["suggested_range"] = list(self.suggested_range)
            out["flat_floor"] = self.flat_floor
        except RangeTestError as exc:
            out["error"] = str(exc)
        return out

    def plot(self, title: str = "Learning-rate range test") -> Any:
        """A plotly figure of loss against learning rate (log axis) with the suggestions marked.

        Returns:
            a ``plotly.graph_objects.Figure``.
        """
        import plotly.graph_objects as go

        fig = go.Figure()
        fig.add_trace(
            go.Scatter(x=self.lrs, y=self.losses, mode="markers", name="loss", marker={"size": 4, "opacity": 0.4})
        )
        fig.add_trace(go.Scatter(x=self.lrs, y=self.trend, mode="lines", name="trend (centred median)"))
        fig.add_trace(
            go.Scatter(x=self.lrs, y=self.smoothed, mode="lines", name="moving average", line={"dash": "dot"})
        )
        try:
            marks = self.suggestions
        except RangeTestError:
            marks = {}
        colours = {"suggested": "green", "steepest": "orange", "min_div_10": "purple", "onset": "red"}
        for name, lr in marks.items():
            fig.add_vline(
                x=math.log10(lr),
                line={"color": colours[name], "dash": "solid" if name == "suggested" else "dash"},
                annotation_text=f"{name} {lr:.2g}",
                annotation_position="top left" if name == "onset" else "top right",
            )
        layout: dict[str, Any] = {"title": title, "xaxis": {"title": "learning rate", "type": "log"}}
        if len(self.trend):
            # Clip the view at the starting loss: the divergent tail would flatten the interesting part.
            low, high = float(np.min(self.trend)), float(max(self.trend[0], self.losses[0]))
            pad = 0.1 * max(high - low, 1e-12)
            layout["yaxis"] = {"title": "loss", "range": [low - pad, high + pad]}
        fig.update_layout(**layout)
        return fig


def _loss_of(value: object, lr: float) -> float:
    """What ``step(lr)`` returned as a float: a real number, or a 0-dimensional array or tensor holding one."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()  # a NumPy 0-d array or a torch scalar tensor
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    shape = getattr(value, "shape", None)
    if value is None:
        got, fix = "None", "return the loss (is `return loss` missing?)"
    elif isinstance(value, bool):
        got, fix = f"a bool ({value})", "return the loss itself, not a comparison or a flag"
    elif isinstance(value, str | bytes):
        got, fix = f"a {type(value).__name__} ({value[:20]!r})", "return the number, e.g. float(text), not its text"
    elif shape is not None:
        got = f"an array ({type(value).__name__} of shape {tuple(shape)})"
        fix = "return the batch's mean loss, e.g. float(losses.mean()), not one loss per example"
    else:
        got, fix = f"a {type(value).__name__}", "return float(loss)"
    raise StepReturnError(
        f"step(lr) must return a finite float, the batch's mean loss, but at lr={lr:.3g} it returned {got}: {fix}"
    )


# How far the trend must fall, in step-to-step noise, to be a fall: pure noise reaches 2.7 in 95 of 100 tests and
# 3.5 in 99 (50 and 100 steps); a loss that learns falls by tens.
FALL_IN_NOISE = 4.0


def range_test(
    step: Callable[[float], float],
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    *,
    smoothing: float = 0.8,
    diverge_factor: float = 4.0,
    window: int = 5,
    margin: float = 5.0,
) -> RangeTestResult:
    """Run an LR range test with any framework.

    Args:
        step: ``step(lr) -> loss``: take one training step at learning rate ``lr`` (keeping the
            model's state between calls) and return that step's loss, the batch's mean, as a float (a 0-dimensional
            array or tensor is taken too); a non-finite loss ends the test. Return the step's own loss, never a
            running or moving average of the losses so far (Keras's ``logs["loss"]`` in a batch callback, a progress
            bar's smoothed loss): an average lags the rise, so the onset reads late. On SGD over a quadratic that
            diverges above 0.5 (30 seeds, a noisy gradient), the step's own loss suggested a median 0.024 (0.017 to
            0.034); an exponential average of memory 10 steps, 0.069; the running mean over the steps so far, 0.11,
            its onset past the stability limit. Nothing in one curve tells a smoothed loss from a steady one (their
            step-to-step changes were alike in every statistic tried), so the test cannot refuse it.
        min_lr: the first rate, small enough that a step barely changes the model.
        max_lr: the last rate, large enough that training diverges.
        num_steps: steps from ``min_lr`` to ``max_lr`` (rates are evenly spaced in ``log(lr)``); at least
            `MIN_READ_STEPS` (15), the fewest a rate is read from.
        smoothing: ``beta`` of the bias-corrected exponential moving average the stop rule watches: a memory of
            about ``1 / (1 - smoothing)`` steps (5 at the default). Over 100 curves of small digits models (an
            MLP and a CNN, SGD and Adam) it stopped 1.1 steps on average after the curve so far showed divergence
            (median 0); at 0.98, a memory of 50 steps, 9.7 (median 9).
        diverge_factor: the loss diverged once its trend rises past this multiple of its lowest value by more than
            its noise (`RangeTestResult.diverged`); the test stops there once the moving average has also risen
            past this multiple of its best value, so a test that stopped has diverged.
        window: points of the centred running median the suggestions are read from.
        margin: `RangeTestResult.suggested_lr` is the divergence onset divided by this. The default, 5,
            allows for ill-conditioned problems, where the loss (dominated by the flat directions) keeps
            falling for many steps after the stiff directions have become unstable, so the bottom of the
            curve lies past the stability limit. On noiseless SGD quadratics over 100 to 500 steps the onset
            (the middle of the bottom) lay up to 4.1 times past the limit for curvatures spread 10x and up to
            5.0 times for 20 curvatures spread 100x (their lowest points: 5.4 and 8.5 times), but up to 9.4
            times for 5 curvatures spread 100x, where the suggestion diverges: for full-batch training of an
            ill-conditioned model, pass a larger margin.

    Returns:
        a `RangeTestResult` with the curve, the suggestions, ``bounds()`` and ``plot()``.

    Raises:
        ConfigError: an argument breaks its rule (before any step is taken).
        StepReturnError: ``step`` returned something that is not a loss (None, an array, a string, a bool).
    """
    min_lr = real("min_lr", min_lr, exclusive_minimum=0, context="range_test", fix="pass e.g. min_lr=1e-7")
    max_lr = real("max_lr", max_lr, exclusive_minimum=0, context="range_test", fix="pass e.g. max_lr=10")
    if not min_lr < max_lr:
        raise ConfigError(f"range_test: min_lr < max_lr must hold, got min_lr={min_lr!r}, max_lr={max_lr!r}: swap them")
    integer(
        "num_steps",
        num_steps,
        minimum=MIN_READ_STEPS,
        context="range_test",
        fix=f"pass num_steps={MIN_READ_STEPS} or more, 100 is usual (a rate is read from at least MIN_READ_STEPS = "
        f"{MIN_READ_STEPS} steps: fewer cannot tell the loss's fall from its noise)",
    )
    real("smoothing", smoothing, minimum=0, exclusive_maximum=1, context="range_test", fix="use 0.8")
    real("diverge_factor", diverge_factor, exclusive_minimum=1, finite=False, context="range_test", fix="use 4.0")
    if integer("window", window, minimum=1, context="range_test", fix="use 5") % 2 == 0:
        raise ConfigError(f"range_test: window must be an odd integer >= 1, got window={window!r}: use 5")
    real("margin", margin, minimum=1, context="range_test", fix="use 5.0")
    schedule = min_lr * (max_lr / min_lr) ** (np.arange(num_steps) / (num_steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    trend: list[float] = []  # the centred median of the losses so far; each new loss moves its last window // 2
    average = 0.0
    best = math.inf
    stop_reason = "max_lr reached"
    non_finite_step: tuple[float, float] | None = None
    for i, lr in enumerate(schedule):
        loss = _loss_of(step(float(lr)), float(lr))
        if not math.isfinite(loss):
            stop_reason, non_finite_step = "non-finite loss", (float(lr), loss)
            break
        average = smoothing * average + (1 - smoothing) * loss
        value = average / (1 - smoothing ** (i + 1))
        lrs.append(float(lr))
        losses.append(loss)
        smoothed.append(value)
        half = window // 2
        del trend[max(0, i - half) :]
        trend.extend(statistics.median(losses[max(0, j - half) : j + half + 1]) for j in range(max(0, i - half), i + 1))
        best = min(best, value)
        # The average only says when to look (factor * best for positive losses; abs() lets a loss go negative).
        # The stop is `diverged`'s judgement on the curve so far, from MIN_READ_STEPS steps on (fewer cannot tell a
        # rise from noise) and at twice its noise margin, since it is judged afresh at each step: at the margin
        # alone it stopped 8 of 300 tests of pure noise whose mean equals its spread, at twice it none of 1,200
        # (means of 0.5 to 2 spreads), and 100 range tests of small digits models stopped at most 6 steps later
        # (median 0).
        looked = i + 1 >= MIN_READ_STEPS and value > best + (diverge_factor - 1) * abs(best)
        if looked and _rose_past(np.asarray(losses), np.asarray(trend), diverge_factor, 2 * FALL_IN_NOISE):
            stop_reason = "diverged"
            break
    raw = np.asarray(losses, dtype=float)
    return RangeTestResult(
        lrs=np.asarray(lrs, dtype=float),
        losses=raw,
        smoothed=np.asarray(smoothed, dtype=float),
        trend=np.asarray(trend, dtype=float),
        stop_reason=stop_reason,
        margin=float(margin),
        window=window,
        non_finite_step=non_finite_step,
        diverge_factor=float(diverge_factor),
    )
