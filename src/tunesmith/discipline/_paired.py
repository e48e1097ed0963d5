"""Paired statistics shared by the baseline margin (`_margin`) and the seed contest (`seeds.Contest`): two models'
per-example values paired seed by seed and example by example (`ExampleBars`), and what would decide a paired gain
that the bars hold within noise (more paired seeds, more validation examples)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tunesmith.discipline._reruns import ExampleValues
from tunesmith.discipline.gap import Z_ONE_SIDED_95

__all__ = ["MOST_SEEDS", "ExampleBars", "paired_advice", "seeds_to_clear", "within_noise"]


@dataclass(frozen=True)
class ExampleBars:
    """The winner's and the baseline's per-example values paired on the seeds both ran (`ExampleValues`): how far
    the examples' noise takes their seed-by-seed mean gain. The per-example difference averaged over the seeds
    has the standard error ``stderr`` over the ``examples`` (positive: the winner is better); the two models' errors
    on one validation set are correlated, so it is far smaller than either model's own.

    Part of that noise, ``interaction`` (a variance: the two-way residual mean square over seeds and examples, over
    ``seeds * examples``), is how the difference on an example moves from seed to seed, which the seed-by-seed
    spread of the paired t-test reads too; the rest, ``beyond``, is the examples' own. The bar on the gain is the
    t-test's bar and the examples' own part combined in quadrature (each at the test's level: the interaction
    counted once, in the t-test's, on its degrees of freedom), and never below `Z_ONE_SIDED_95` standard errors
    of the per-example differences. Either bar alone ignores the other's noise: the larger of the two passed up
    to 8% of null studies where both are alike (5 seeds, simulated), the quadrature at most 5%.
    """

    examples: int
    seeds: int
    stderr: float
    interaction: float

    @classmethod
    def of(cls, pairs: list[tuple[ExampleValues | None, ExampleValues | None]], sign: float) -> ExampleBars | None:
        """The winner's and the baseline's values on each shared seed (``None`` unless both carry as many values on
        every one); ``sign`` is the metric's (`Metric.sign`), so that a positive difference is the winner's gain."""
        both = [(winner, base) for winner, base in pairs if winner is not None and base is not None]
        if len(both) < 2 or len(both) < len(pairs) or len({v.count for pair in both for v in pair}) != 1:
            return None
        gains = sign * np.array([base.values() - winner.values() for winner, base in both])
        seeds, examples = gains.shape
        by_example = gains.mean(axis=0)
        residual = gains - gains.mean(axis=1, keepdims=True) - by_example + gains.mean()
        within = float(np.sum(residual**2)) / ((seeds - 1) * (examples - 1))
        return cls(examples, seeds, float(np.std(by_example, ddof=1)) / math.sqrt(examples),
                   within / (seeds * examples))  # fmt: skip

    @property
    def beyond(self) -> float:
        """The variance of the mean gain that the examples add beyond the seed-by-example part (0 when that part
        reads larger: a variance is never negative)."""
        return max(0.0, self.stderr**2 - self.interaction)

    def bars(self, needed: float, level: float, seeds: int | None = None, scale: float = 1.0) -> tuple[float, float]:
        """The sampling bar (`Z_ONE_SIDED_95` standard errors of the per-example differences) and the combined bar
        (the t-test's bar ``needed`` and the examples' own part in quadrature, at ``level``), on ``seeds`` paired
        seeds (``None``: these) and ``scale`` times these examples; ``needed`` is the t-test's bar on those seeds."""
        from scipy.stats import norm

        factor = (self.seeds / seeds if seeds is not None else 1.0) / scale
        # On these seeds and examples, the standard error itself (its parts as read, before the one is floored)
        variance = (self.stderr**2 - self.interaction) / scale + self.interaction * factor
        sampling = Z_ONE_SIDED_95 * math.sqrt(max(0.0, variance))
        own = float(norm.ppf(1.0 - level)) * math.sqrt(self.beyond / scale)
        return sampling, math.hypot(needed, own)

    def advice(self, gain: float, needed: float, spread: float, level: float) -> str:
        """What would decide a positive (or, `_undecided`, a shortfall's) ``gain`` below these bars (the t-test's
        ``needed``, on the seeds' ``spread`` at ``level``): more paired seeds lower the t-test's bar and the
        seed-by-example part, more validation examples the examples' part; each is named with about how much would
        do if the gain and the spreads stayed, and both when each bar alone lies above the gain."""
        from scipy.stats import norm

        sampling, combined = self.bars(needed, level)
        bar = max(needed, sampling, combined)
        hopeless = within_noise(gain, bar)
        if hopeless is not None:
            return hopeless
        own = float(norm.ppf(1.0 - level)) * math.sqrt(self.beyond)  # the part more seeds do not lower
        if needed >= gain and own >= gain:
            return both_remedies((f"about {seeds_to_clear(gain, spread, level, self.seeds)} paired seeds for both (now "
                          f"{self.seeds})", f"the t-test's bar ({needed:.3g})"),
                         (f"about {(own / gain) ** 2:.1f}x the validation examples",
                          f"the examples' own part ({own:.3g})"))  # fmt: skip
        seeds = self.seeds_to_clear(gain, spread, level) if own < gain else None
        more_seeds = (f"about {seeds} paired seeds for both (now {self.seeds})" if seeds is not None else
                      f"over {MOST_SEEDS} paired seeds for both (now {self.seeds})")  # fmt: skip
        if needed >= gain:
            other = f"the examples' own part ({own:.3g})" if own > 0 else ""
            return one_remedy((more_seeds, f"the bar ({bar:.3g})"), other)
        # More examples leave the t-test's bar where it is (its spread's part from the examples is left in: about)
        room = gain**2 - needed**2
        scale = max((Z_ONE_SIDED_95 * self.stderr / gain) ** 2, float(norm.ppf(1.0 - level)) ** 2 * self.beyond / room)
        more_examples = f"about {scale:.1f}x the validation examples"
        if own >= gain:
            other = f"the t-test's bar ({needed:.3g})" if needed > 0 else ""
            return one_remedy((more_examples, f"the bar ({bar:.3g})"), other)
        return f"{more_seeds}, or {more_examples}, would decide, bringing the bar ({bar:.3g}) below the gain"

    def seeds_to_clear(self, gain: float, spread: float, level: float) -> int | None:
        """The fewest paired seeds on which every bar lies below ``gain`` at these spreads (``None``: none up to
        `MOST_SEEDS`); the bars fall as the seeds grow."""
        from scipy.stats import t as student

        def bar(seeds: int) -> float:
            needed = float(student.ppf(1.0 - level, seeds - 1)) * spread / math.sqrt(seeds)
            return max(needed, *self.bars(needed, level, seeds))

        if bar(MOST_SEEDS) >= gain:
            return None
        low, high = self.seeds, MOST_SEEDS  # the bar at low is at or above the gain, at high below it
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if bar(middle) < gain else (middle, high)
        return high


# A gain a tenth of a standard error or less from zero is within noise: more data would not decide it soon (over
# (1.645 / 0.1) ** 2, about 270, times as much), as `more_data` says of any difference that close.
_WITHIN_NOISE_Z = 0.1


def within_noise(gain: float, bar: float) -> str | None:
    """What the check says of a ``gain`` too small for any practical amount of data to clear ``bar`` (a one-sided
    95% bar: about `Z_ONE_SIDED_95` standard errors); ``None`` when more data could."""
    if Z_ONE_SIDED_95 * gain / bar > _WITHIN_NOISE_Z:
        return None
    return (f"the gain itself is within noise: {gain:.3g} is a tenth of a standard error or less (the bar, {bar:.3g}, "
            f"is {Z_ONE_SIDED_95:.3g} of them), so no practical amount of seeds or examples would decide")  # fmt: skip


def paired_advice(gain: float, needed: float, sampling: float, spread: float, level: float, seeds: int) -> str:
    """What would decide a positive (or, `_undecided`, a shortfall's) paired ``gain`` that does not clear both
    bars: more paired seeds lower the t-test's bar ``needed`` (not the sampling bar), more validation examples the
    ``sampling`` bar (not the t-test's); each is named with how many would clear it if the gain and the spreads
    stayed, and both when both are above."""
    hopeless = within_noise(gain, max(needed, sampling))
    if hopeless is not None:
        return hopeless
    more_seeds = (f"about {seeds_to_clear(gain, spread, level, seeds)} paired seeds for both (now {seeds})",
                  f"the t-test's bar ({needed:.3g})")  # fmt: skip
    more_examples = (f"about {(sampling / gain) ** 2:.1f}x the validation examples",
                     f"the sampling bar ({sampling:.3g})")  # fmt: skip
    if needed >= gain and sampling >= gain:
        return both_remedies(more_seeds, more_examples)
    if needed >= gain:
        return one_remedy(more_seeds, more_examples[1] if sampling > 0 else "")
    return one_remedy(more_examples, more_seeds[1] if needed > 0 else "")


def seeds_to_clear(gain: float, spread: float, level: float, seeds: int) -> int:
    """The fewest paired seeds whose one-sided t-test at ``level`` clears ``gain`` at this ``spread`` of the
    differences (more than ``seeds``): the bar falls with the square root of the seeds and with the t quantile."""
    from scipy.stats import norm
    from scipy.stats import t as student

    # The normal quantile is below every t quantile: no fewer seeds than it asks for can clear the gain.
    count = max(seeds + 1, math.ceil((float(norm.ppf(1.0 - level)) * spread / gain) ** 2))
    while float(student.ppf(1.0 - level, count - 1)) * spread / math.sqrt(count) >= gain:
        count += 1
    return count


def one_remedy(remedy: tuple[str, str], other: str) -> str:
    """``remedy`` (how much more data, the bar it lowers) in words, the ``other`` bar (if any) below the gain."""
    below = f"; {other} is below the gain already" if other else ""
    return f"{remedy[0]} would decide, bringing {remedy[1]} below the gain{below}"


def both_remedies(more_seeds: tuple[str, str], more_examples: tuple[str, str]) -> str:
    """Both remedies in words, when both bars lie above the gain."""
    return (f"both bars lie above the gain, so neither more seeds nor more examples alone would decide: "
            f"{more_seeds[0]} would bring {more_seeds[1]} below it, and {more_examples[0]} "
            f"{more_examples[1]}")  # fmt: skip


# Seeds beyond which a count that would decide is not sought further: the baseline margin's seed bar of a single run
# is then within a hair of its floor (`_margin._SingleRun.floor`), which no number of baseline seeds lowers, and a
# paired bar that the examples' own noise holds above the gain (`ExampleBars.seeds_to_clear`) is not lowered by seeds.
MOST_SEEDS = 10_000
