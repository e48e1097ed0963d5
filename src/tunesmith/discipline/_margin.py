"""The verdict's baseline margin: does the chosen configuration beat the declared baseline by more than noise?"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith._noise import metric_noise
from tunesmith.attributes import BaselineAttr, SeedCandidateAttr, SeedStabilityAttr, read_attr
from tunesmith.discipline._baseline_front import front_margin
from tunesmith.discipline._front import several_objectives
from tunesmith.discipline._paired import (
    MOST_SEEDS,
    ExampleBars,
    one_remedy,
    paired_advice,
    within_noise,
)
from tunesmith.discipline._reruns import BASELINE_NUMBER, ExampleValues, SeedRun, completed
from tunesmith.discipline.gap import Z_ONE_SIDED_95, Noise
from tunesmith.discipline.optimism import Optimism, chosen_flattery
from tunesmith.discipline.verdict import Check
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["baseline_check"]


# A seed spread this small, relative to the scores, is rounding: the runs agree exactly across seeds.
_NO_NOISE = 1e-9
_LEVEL = 0.05  # the paired test's one-sided level, shared among the candidates the winner was picked from


def baseline_check(study: Study, record: TrialRecord, entry: SeedCandidateAttr | None,
                    optimism: Optimism | None) -> Check:  # fmt: skip
    """Whether the winner beats the baseline by more than the noise in either score.

    The winner's score is its mean over the confirmation runs, the fresh seeds it re-ran on after the pick
    (unbiased for seed luck); without them, its mean over the runs that picked it, which the pick favours when
    it was picked from several candidates (the best of three as good as the baseline, on five seeds, reads a
    third of a seed standard deviation too high); without re-runs, the search's best, which won a comparison
    on the same validation data and is moved back by the selection optimism when that was estimated from
    measured noise (folds, per-example errors or seed noise). The noise is the larger of a seed bar and, when
    the winner's result carries its sampling noise (per-example values or folds), `Z_ONE_SIDED_95` standard
    errors of the difference: the winner's own (a validation set of a few hundred examples moves a score by more
    than many tuning gains) combined with the baseline mean's across its seeds. The winner's standard error
    stands in for its share of the difference's, which the per-example values of both models give paired only on
    the seeds both ran (`ExampleBars`, in the paired check): on one validation set the two models' errors are
    correlated, and the winner's own standard error is the difference's when they correlate at 0.5. The seed bar
    is one seed standard deviation when the winner's score is a mean over re-runs (the baseline's or the winner's
    spread, the larger: on five seeds each, about a one-sided 95% test of the means); without re-runs the search's
    best is one run against the baseline's mean, a one-sided 5% test read from the baseline's spread alone
    (`_SingleRun`).

    The winner passes when its gain exceeds the bar (the gain's one-sided 95% lower bound lies above zero), and
    fails decided only when the gain plus the same bar (its one-sided 95% upper bound) lies at or below zero; a
    gain within the bar on either side, or one of unknown noise, fails undecided, saying what would decide (the
    two sides alike: `_undecided`). A decided failure for any gain at or below zero read 49% of studies with the
    winner as good as the baseline, and 26% with it truly a point better (0.81 against 0.80, 300 examples, 5
    paired seeds, simulated).
    """
    baseline = read_attr(study.attrs, BaselineAttr)
    name = "baseline margin"
    if baseline is None:
        return Check(name, True, "no baseline evaluated: declare ts.Study(..., baseline={...defaults}) (tunesmith "
                     "finalize --rerun-top K --baseline NAME=VALUE; a config's [holdout] baseline)",
                     checked=False)  # fmt: skip
    if not baseline.values:
        if baseline.runs:  # it ran, and every run failed
            return _all_failed(baseline)
        return Check(name, True, "the declared baseline was never run: ts.evaluate_baseline(study, objective) runs it "
                     "(ts.validate_top runs it first)", checked=False)  # fmt: skip
    if baseline.mean is None:
        raise baseline.missing("mean")
    if several_objectives(study):  # a trade-off is judged against the baseline on every objective
        return front_margin(study, record, entry, baseline)
    metric = study.metric
    base_mean = float(baseline.mean)
    searched = float(record.metrics[metric.name])
    stability = read_attr(study.attrs, SeedStabilityAttr)  # read once: both the score and the pairs come from it
    rerun = _rerun_score(stability, entry)
    # Whether the winner is the search's best (not a front's choice), the best of ``optimism.compared`` scores
    searched_best = optimism is not None and math.isclose(searched, optimism.best)
    scores = [v for r in study.trials if r.invalidated is None and r.state.is_finished
              and (v := r.value(metric.name)) is not None]  # fmt: skip
    # What the gap check takes back from the same score: the chosen configuration's own flattery, at most its lead
    selection = chosen_flattery(optimism, searched, scores, metric.sign())
    winner = metric_noise(record.metrics, metric)
    taken_back = 0.0  # the selection optimism the winner's score was moved back by
    if rerun is not None:
        runs = _winner_runs(study, stability, entry, rerun)
        taken_back = selection * _kept_share([run.examples for run in runs], rerun.std, winner)
        value, what = rerun.mean + metric.sign() * taken_back, rerun.what
        if taken_back > 0:
            what += (f", less the selection optimism its validation examples keep, {taken_back:.3g} (re-runs on "
                     f"the examples that picked it keep that part of its luck)")  # fmt: skip
    elif selection > 0:
        taken_back = selection
        value = searched + metric.sign() * taken_back
        what = f"the search's {searched:.4g} less its selection optimism {selection:.3g}"
    elif optimism is None:
        value, what = searched, "the search's one score: nothing was selected"
    else:
        value, what = searched, "the search's best, not corrected for selection: ts.validate_top re-runs it"
    paired = _paired(study, stability, entry, rerun, baseline)
    if paired is not None:
        return _paired_check(study, paired, winner, value, what, baseline, taken_back)
    seed_noise = max(float(baseline.std or 0.0), rerun.std if rerun is not None else 0.0)
    # The baseline's mean is itself uncertain: its seeds' spread over the square root of their number.
    base_error = float(baseline.std or 0.0) / math.sqrt(len(baseline.values))
    single, welch = None, None
    if rerun is None and seed_noise > 0 and len(baseline.values) >= 2:  # the baseline's spread is all there is
        compared = optimism.compared if optimism is not None and searched_best else 1
        single = _SingleRun(seed_noise, len(baseline.values), compared, taken_back)
    elif rerun is not None and seed_noise > 0:
        welch = _Welch.of(rerun, baseline)
    seed_bar = single.bar() if single is not None else welch.bar() if welch is not None else seed_noise
    noise = f"seed noise {seed_noise:.3g}"
    if single is not None or welch is not None:
        noise = single.words() if single is not None else welch.words() if welch is not None else noise
    sampling = 0.0
    if winner is not None and Z_ONE_SIDED_95 * math.hypot(winner.stderr, base_error) > seed_bar:
        sampling = Z_ONE_SIDED_95 * math.hypot(winner.stderr, base_error)
        noise = (f"sampling noise {sampling:.3g} ({Z_ONE_SIDED_95:.3g} standard errors of the difference: its "
                 f"score's, {winner.source}, and the baseline mean's)")  # fmt: skip
    margin = metric.sign() * (base_mean - value)
    unknown = winner is None and seed_noise <= _NO_NOISE * max(1.0, abs(base_mean), abs(value))
    if margin > 0 and unknown:
        return Check(name, True, (
            f"{metric.name} {value:.4g} ({what}) vs baseline {base_mean:.4g}{_baseline_failures(baseline)}: better by "
            f"{margin:.3g}, but no noise is "
            "known, so it cannot be told from the validation sample's noise: the runs agree across seeds (a "
            "deterministic pipeline, or no re-runs) and the results carry no per-example values or folds; return "
            f"per-example values (e.g. {{'{metric.name}': correct_per_example}}) or per-fold scores to decide"
        ), checked=False)  # fmt: skip
    bar = max(seed_bar, sampling)
    passed = margin > bar
    # The gain's one-sided 95% upper bound at or below zero, before the optimism taken back (an estimate) too
    short = not unknown and margin + taken_back + bar <= 0
    if passed:
        outcome = ""
    elif not unknown and margin + bar <= 0 < margin + taken_back + bar:
        outcome = f" - {_short_once_corrected(margin, bar, taken_back)}"
    elif unknown:
        outcome = (" - but no noise is known, so it cannot be told from the validation sample's noise either way: the "
                   "runs agree across seeds (a deterministic pipeline, or no re-runs) and the results carry no "
                   f"per-example values or folds; {_to_measure_noise(metric.name)}")  # fmt: skip
    elif short:
        outcome = f" - {_falls_short(margin, bar)}"
    else:
        bars = _UnpairedBars(seed_noise, winner, base_error, single, welch)
        outcome = _undecided(margin, lambda size: bars.advice(size, _how_to_pair(rerun, entry)))
    relation = "better" if margin > 0 else "worse" if margin < 0 else "no better"
    return Check(
        name,
        passed,
        f"{metric.name} {value:.4g} ({what}) vs baseline {base_mean:.4g}{_baseline_failures(baseline)}: "
        f"{relation} by {abs(margin):.3g}, {noise}{outcome}",
        decided=passed or short,
    )


@dataclass(frozen=True)
class _Rerun:
    """The winner's score on its re-runs: ``mean`` and ``std`` (one seed's), ``what`` says which runs in the
    check's words, and ``confirmation`` whether they are the fresh seeds run after the pick."""

    mean: float
    std: float
    what: str
    confirmation: bool
    seeds: int = 1  # the runs behind ``mean``
    spread_seeds: int = 1  # the runs behind ``std`` (a single confirmation run borrows the selection runs' spread)
    candidates: int = 1  # the configurations the runs picked the winner from (1 for the confirmation runs)


def _rerun_score(stability: SeedStabilityAttr | None, entry: SeedCandidateAttr | None) -> _Rerun | None:
    """The winner's re-run score (``None``: it was not re-run): its confirmation runs when any completed, else
    the selection runs, said to be favoured by the pick when it was picked from several candidates."""
    if entry is None:
        return None
    confirmed = entry.confirm_values or ()
    if confirmed and entry.confirm_mean is not None and math.isfinite(entry.confirm_mean):
        # One completed run has no spread of its own: the selection runs' stands in.
        spread = entry.confirm_std if len(confirmed) > 1 else entry.std
        spread_seeds = len(confirmed) if len(confirmed) > 1 else len(entry.values or ())
        return _Rerun(float(entry.confirm_mean), float(spread or 0.0),
                      f"confirmation mean over {len(confirmed)} fresh seeds after the pick", True, len(confirmed),
                      spread_seeds)  # fmt: skip
    if entry.mean is None:
        return None
    seeds = len(entry.values or ())
    picked = _candidates(stability) if stability is not None else 1
    what = f"re-run mean over {seeds} seeds"
    if picked > 1:
        what = f"selection mean over {seeds} seeds: the runs that picked it from {picked} candidates favour it"
    return _Rerun(float(entry.mean), float(entry.std or 0.0), what, False, seeds, seeds, picked)


def _candidates(stability: SeedStabilityAttr) -> int:
    """How many configurations the winner was picked from (the baseline is not one of them)."""
    return max(1, sum(1 for c in stability.candidates or () if not c.baseline))


def _winner_runs(study: Study, stability: SeedStabilityAttr | None, entry: SeedCandidateAttr | None,
                 rerun: _Rerun | None) -> list[SeedRun]:  # fmt: skip
    """The winner's completed runs that ``rerun`` reads (its confirmation runs, else its selection runs) that
    measured the study metric."""
    if entry is None or entry.trial is None or stability is None or rerun is None:
        return []
    runs = (stability.confirm_runs if rerun.confirmation else stability.runs) or ()
    return [run for run in completed(runs, entry.trial) if study.metric.name in run.metrics]


def _kept_share(examples: Sequence[ExampleValues | None], seed_spread: float, winner: Noise | None) -> float:
    """The share of the winner's selection optimism that its re-runs keep: re-runs on fresh seeds take back the
    seeds' part of the luck that picked it, never the validation examples' part, since they score the same examples.

    The search's score is the winner's true score plus noise from the examples that stays with it on every seed
    (how it happens to fare on these examples) and noise that changes from seed to seed; choosing the best flatters
    each part in proportion to its variance (selection on a sum of normal parts). With per-example values on two or
    more runs (``examples``, one per run, as many values each), the part that stays is read from them (a two-way
    analysis of variance over runs and examples: the examples' main effect, over their number), and the seed-to-seed
    part is the spread of the runs' scores. Without them, the winner's per-example or per-fold standard error
    (``winner``) stands for the part that stays, the runs' ``seed_spread`` for the rest: an upper bound, since some
    of that standard error moves with the seed. With neither (plain scores), the optimism was read from the seeds'
    noise alone, which fresh seeds take back whole: 0. The examples' part also holds how hard each example is for
    every model, which flatters no one: the share errs high, so the margin errs towards undecided.

    Deterministic models (a seed that changes nothing) keep every bit of it: their re-runs repeat the search's score.
    Among 30 configurations and a baseline all 80% accurate on 300 examples, whose models ignore the seed, the margin
    after `validate_top` passed 14 studies of 30 before the share was taken back (simulated)."""
    values = [v.values() for v in examples if v is not None]
    if len(values) >= 2 and len(values) == len(examples) and len({v.size for v in values}) == 1:
        grid = np.vstack(values)
        runs, count = grid.shape
        by_example, by_run = grid.mean(axis=0), grid.mean(axis=1)
        residual = grid - by_run[:, None] - by_example[None, :] + grid.mean()
        within = float(np.sum(residual**2)) / ((runs - 1) * (count - 1))
        stays = max(0.0, float(np.var(by_example, ddof=1)) - within / runs) / count
        moves = float(np.var(by_run, ddof=1))
    elif winner is not None:
        stays, moves = winner.stderr**2, seed_spread**2
    else:
        return 0.0
    total = stays + moves
    return stays / total if total > 0 else 0.0


def _short_once_corrected(gain: float, bar: float, taken_back: float) -> str:
    """What the check says of a ``gain`` that falls short only once ``taken_back``, the selection optimism (an
    estimate), is taken back: a decided failure must not rest on an estimate of the luck, so it is undecided."""
    return (f"within the noise of the correction: the gain's one-sided 95% upper bound, the gain plus the bar "
            f"({bar:.3g}), is {gain + bar:.3g}, at or below zero only once the selection optimism ({taken_back:.3g}), "
            f"itself an estimate, is taken back, and {gain + taken_back + bar:.3g} before; more paired seeds or "
            "validation examples for both, or a validation set no search was tuned on, would decide")  # fmt: skip


@dataclass(frozen=True)
class _Paired:
    """The winner's and the baseline's re-runs on the seeds both ran: ``differences`` (positive: the winner
    is better), ``candidates``, how many configurations the winner was picked from, ``baseline_mean``, the
    baseline's mean on those seeds, and ``examples``, their per-example values paired on those seeds (``None``:
    not both carry them alike on every one)."""

    differences: tuple[float, ...]
    candidates: int
    baseline_mean: float
    examples: ExampleBars | None = None


def _paired(study: Study, stability: SeedStabilityAttr | None, entry: SeedCandidateAttr | None,
            rerun: _Rerun | None, baseline: BaselineAttr) -> _Paired | None:  # fmt: skip
    """The winner's re-runs that ``rerun`` reads, paired with the baseline's by seed (``None``: fewer than two
    seeds in common), and example by example when both kept their per-example values on every shared seed.

    The confirmation runs are on the seed list's seeds after the selection's, and a baseline runs on its first
    seeds; `validate_top` runs a recorded baseline on the confirmation seeds too (`run_baseline_on_seeds`), so
    they pair unless the baseline was evaluated after it. They owe nothing to the seeds' luck in the pick, so the winner
    counts as one candidate; the luck of the validation examples that picked it, which re-runs on them keep,
    `baseline_check` takes back (`_kept_share`).
    """
    if entry is None or entry.trial is None or stability is None or rerun is None:
        return None
    name, sign = study.metric.name, study.metric.sign()

    def by_seed(runs: Iterable[Mapping[str, Any]], candidate: int) -> dict[int, SeedRun]:
        return {run.seed: run for run in completed(runs, candidate) if name in run.metrics}

    winner = {run.seed: run for run in _winner_runs(study, stability, entry, rerun)}
    base = by_seed(baseline.runs, BASELINE_NUMBER)
    seeds = [seed for seed in winner if seed in base]
    if len(seeds) < 2:
        return None
    candidates = 1 if rerun.confirmation else _candidates(stability)
    examples = ExampleBars.of([(winner[s].examples, base[s].examples) for s in seeds], sign)
    return _Paired(tuple(sign * (base[s].metrics[name] - winner[s].metrics[name]) for s in seeds), candidates,
                   math.fsum(base[s].metrics[name] for s in seeds) / len(seeds), examples)  # fmt: skip


@dataclass(frozen=True)
class _PairedBars:
    """What the paired margin decides on: the winner's ``mean`` gain seed by seed and its ``spread`` across the
    seeds, the t-test's ``level`` and its bar ``needed``, the ``sampling`` bar (0 when no sampling noise is known)
    and, with per-example values paired, the ``combined`` bar (`ExampleBars`; else 0)."""

    mean: float
    spread: float
    level: float
    needed: float
    sampling: float
    combined: float
    taken_back: float = 0.0

    @classmethod
    def of(cls, paired: _Paired, winner: Noise | None, taken_back: float = 0.0) -> _PairedBars:
        """The bars of ``paired``; ``winner`` is the sampling noise of the winner's own result, read when the
        per-example values are not paired; ``taken_back`` the selection optimism the winner's re-runs keep, which
        the mean gain is moved back by."""
        from scipy.stats import t as student

        n = len(paired.differences)
        mean = math.fsum(paired.differences) / n - taken_back
        spread = statistics.stdev(paired.differences)
        level = _LEVEL / paired.candidates
        needed = float(student.ppf(1.0 - level, n - 1)) * spread / math.sqrt(n)
        if paired.examples is not None:
            return cls(mean, spread, level, needed, *paired.examples.bars(needed, level), taken_back)
        sampling = Z_ONE_SIDED_95 * winner.stderr if winner is not None else 0.0
        return cls(mean, spread, level, needed, sampling, 0.0, taken_back)

    @property
    def bar(self) -> float:
        """How far the mean gain must lie from zero, either way, to decide: the largest bar."""
        return max(self.needed, self.sampling, self.combined)

    @property
    def passed(self) -> bool:
        """Whether the gain's one-sided 95% lower bound lies above zero."""
        return self.mean > self.bar

    @property
    def short(self) -> bool:
        """Whether the gain's one-sided 95% upper bound, the gain plus the same bar, lies at or below zero, before the
        selection optimism taken back (an estimate) too."""
        return self.mean + self.taken_back + self.bar <= 0

    @property
    def short_once_corrected(self) -> bool:
        """Whether that bound lies at or below zero only once the selection optimism is taken back."""
        return self.mean + self.bar <= 0 < self.mean + self.taken_back + self.bar


def _paired_check(study: Study, paired: _Paired, winner: Noise | None, value: float, what: str,
                  baseline: BaselineAttr, taken_back: float = 0.0) -> Check:  # fmt: skip
    """The margin as a paired one-sided t-test over the seeds both ran, at 5% over the number of candidates
    the winner was picked from (Bonferroni: the best of three beats a baseline by chance more often than one
    does); a result carrying its sampling noise must also beat `Z_ONE_SIDED_95` of its standard errors, the
    noise of the validation examples every seed shares, which pairing by seed does not remove. When both models'
    runs kept their per-example values, that noise is read from the per-example differences instead, and the gain
    must clear the two bars combined (`ExampleBars`). ``value`` is the winner's score, which ``what`` names; the
    baseline's is its mean on the paired seeds, beside its mean over all its seeds when it ran more (the winner's
    confirmation seeds after its selection seeds)."""
    metric, n, examples = study.metric, len(paired.differences), paired.examples
    bars = _PairedBars.of(paired, winner, taken_back)
    mean, spread, level, needed, sampling = bars.mean, bars.spread, bars.level, bars.needed, bars.sampling
    picked = f" for the best of {paired.candidates} candidates" if paired.candidates > 1 else ""
    gains = f"{mean + taken_back:.3g} +- {spread / math.sqrt(n):.2g} seed by seed"
    if taken_back > 0:
        gains += f", {mean:.3g} less the selection optimism taken back"
    test = (f"on {n} paired seeds the winner gains {gains}; beyond chance means more than {needed:.3g} (one-sided "
            f"t-test at {level:.2%}{picked})")  # fmt: skip
    if examples is not None:
        test += (f"; sampling noise {sampling:.3g} ({Z_ONE_SIDED_95:.3g} standard errors of the per-example "
                 f"differences, paired over {examples.examples} examples on {n} seeds), {bars.combined:.3g} with the "
                 "t-test's bar (in quadrature, the seed-by-example noise both read counted once)")  # fmt: skip
    elif winner is not None:
        test += f"; sampling noise {sampling:.3g} ({Z_ONE_SIDED_95:.3g} standard errors, {winner.source})"
    head = f"{metric.name} {value:.4g} ({what}) vs baseline {paired.baseline_mean:.4g}"
    if n < len(baseline.values or ()):
        head += f" on the same seeds, {float(baseline.mean or 0.0):.4g} over all {len(baseline.values or ())}"
    head += _baseline_failures(baseline)
    unknown = winner is None and examples is None and spread <= _NO_NOISE * max(1.0, abs(paired.baseline_mean))
    if mean > 0 and unknown:
        return Check("baseline margin", True, (
            f"{head}: better by {mean:.3g} on every one of {n} seeds alike, but no noise is known, so it cannot be "
            f"told from the validation sample's noise: {_to_measure_noise(metric.name)}"), checked=False)  # fmt: skip
    short = bars.short and not unknown
    if bars.passed:
        outcome = ""
    elif bars.short_once_corrected and not unknown:
        outcome = f" - {_short_once_corrected(mean, bars.bar, taken_back)}"
    elif unknown:
        outcome = (f" - {'no better' if mean == 0 else f'worse by {-mean:.3g}'} on every one of {n} seeds alike, "
                   "but no noise is known, so it cannot be told from the validation sample's noise either way: "
                   f"{_to_measure_noise(metric.name)}")  # fmt: skip
    elif short:
        outcome = f" - {_falls_short(mean, bars.bar)}"
    else:

        def advice(size: float) -> str:
            if examples is not None:
                return examples.advice(size, needed, spread, level)
            return paired_advice(size, needed, sampling, spread, level, n)

        outcome = _undecided(mean, advice)
    return Check("baseline margin", bars.passed, f"{head}: {test}{outcome}", decided=bars.passed or short)


def _to_measure_noise(metric: str) -> str:
    """What would measure the validation sample's noise of ``metric`` when the runs measured none."""
    return (f"return per-example values (e.g. {{'{metric}': correct_per_example}}) or per-fold scores to "
            "decide")  # fmt: skip


def _falls_short(gain: float, bar: float) -> str:
    """What the check says of a ``gain`` shown not to beat the baseline: the gain plus ``bar``, its one-sided 95%
    upper bound, at or below zero."""
    return (f"the winner does not beat the baseline: its gain's one-sided 95% upper bound, the gain plus the bar "
            f"({bar:.3g}), is {gain + bar:.3g}, at or below zero")  # fmt: skip


def _undecided(gain: float, advice: Callable[[float], str]) -> str:
    """What the check says of a ``gain`` within the bar of zero on either side: neither a gain nor a shortfall
    shown, and what would decide (``advice`` on the size of the difference the bars must fall below)."""
    if gain > 0:
        return f" - within the noise, so the evidence cannot tell the winner from the baseline: {advice(gain)}"
    # The advice calls that size "the gain": here the bars must fall below a shortfall to show it.
    more = advice(-gain).replace("the gain", "the shortfall")
    return (" - within the noise, so the evidence cannot tell the winner from the baseline, nor show that it falls "
            f"short: {more}")  # fmt: skip


_QUADRATURE_NODES = 64  # per dimension of `_best_over_spread`'s integral: its level to about 1e-4


@lru_cache(maxsize=256)
def _best_over_spread(compared: int, seeds: int) -> float:
    """The one-sided 5% bar, in seed standard deviations, on the best of ``compared`` runs less the mean of
    ``seeds`` other runs, all alike, the standard deviation read from the ``seeds`` runs alone.

    That ratio is ``(M - Z) / S``: ``M`` the largest of ``compared`` standard normals, ``Z`` normal with variance
    ``1 / seeds``, ``S`` the square root of a chi-square on ``seeds - 1`` degrees of freedom over them. Its chance
    of exceeding ``c``, ``E[1 - Phi(c S + Z) ** compared]``, is integrated by Gauss quadrature (Gauss-Hermite over
    ``Z``, Gauss-Legendre over the probability of ``S``) and ``c`` solved for. One run (``compared`` 1) is
    Student's t on ``seeds - 1`` degrees of freedom times ``sqrt(1 + 1 / seeds)``."""
    import numpy as np
    from scipy.optimize import brentq
    from scipy.special import log_ndtr, roots_hermitenorm, roots_legendre
    from scipy.stats import chi

    degrees = seeds - 1
    points, weights = roots_legendre(_QUADRATURE_NODES)
    spread = chi.ppf((points + 1.0) / 2.0, degrees) / math.sqrt(degrees)
    spread_weights = weights / 2.0
    normal, normal_weights = roots_hermitenorm(_QUADRATURE_NODES)
    mean = normal / math.sqrt(seeds)
    normal_weights = normal_weights / math.sqrt(2.0 * math.pi)

    def excess(bar: float) -> float:
        below = compared * log_ndtr(bar * spread[:, None] + mean[None, :])  # log P(every run below the bar)
        return float(spread_weights @ -np.expm1(below) @ normal_weights) - _LEVEL

    high = 4.0
    while excess(high) > 0:
        high *= 2.0
    return float(brentq(excess, 0.0, high, xtol=1e-6))


@dataclass(frozen=True)
class _SingleRun:
    """The search's best read as one run against the baseline's mean over ``seeds`` seeds, without re-runs: its
    seed noise is one run's, measured only by the baseline's ``spread`` (one seed standard deviation on ``seeds``
    runs). It was the best of ``compared`` scores (1: not the search's best) and moved back by ``taken_back``, its
    selection optimism (0: not corrected).

    The seed bar on the margin is the larger of two one-sided 5% bars. The best of the compared runs against the
    baseline's mean: the best less the mean must exceed `_best_over_spread` seed standard deviations, exact where
    every compared configuration is as good as the baseline (the least favourable case: configurations that differ
    leave the best less lucky), and the margin that much less the optimism taken back. No normal or Student's t
    quantile of the margin will do when the optimism was read at this spread (order statistics: the spread times
    the expected maximum of the compared scores' noise), for a spread of a few seeds that happens to read low then
    shrinks both the bar and the optimism. And the margin as one run against the mean, the optimism taken as
    known: Student's t on ``seeds - 1`` degrees of freedom on ``sqrt(1 + 1 / seeds)`` seed standard deviations,
    which holds the margin above zero when an optimism read from per-example errors or folds exceeds the first
    bar's allowance. Among 20 configurations no better than a baseline run on five seeds (no re-runs, plain
    scores of 300 examples, seed effect 0.02), one seed standard deviation as the bar passed 20% of searches, the
    second bar alone 9% (simulated), the larger of the two 4.0% (of 4200).
    """

    spread: float
    seeds: int
    compared: int
    taken_back: float

    def _bars(self, seeds: int) -> tuple[float, float]:
        """The best-of-the-compared bar and the one-run bar on the margin, with the baseline on ``seeds`` seeds."""
        return (self.spread * _best_over_spread(self.compared, seeds) - self.taken_back,
                self.spread * _best_over_spread(1, seeds))  # fmt: skip

    def bar(self, seeds: int | None = None) -> float:
        """How far the margin must exceed zero at the one-sided 5% level with the baseline on ``seeds`` seeds
        (``None``: the seeds it ran) at this spread."""
        return max(self._bars(self.seeds if seeds is None else seeds))

    @property
    def floor(self) -> float:
        """The bar with the baseline's mean known exactly, which more baseline seeds do not lower: the 95% quantile
        of the best of the compared runs' noise less the optimism taken back, or of one run's noise."""
        from scipy.stats import norm

        best = float(norm.ppf((1.0 - _LEVEL) ** (1.0 / self.compared)))
        return max(self.spread * best - self.taken_back, Z_ONE_SIDED_95 * self.spread)

    def seeds_to_clear(self, gain: float) -> int | None:
        """The fewest baseline seeds whose bar lies below ``gain`` at this spread (``None``: none up to
        `MOST_SEEDS`); the bar falls as the seeds grow."""
        if self.floor >= gain or self.bar(MOST_SEEDS) >= gain:
            return None
        low, high = self.seeds, MOST_SEEDS  # the bar at low is at or above the gain, at high below it
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self.bar(middle) < gain else (middle, high)
        return high

    def words(self) -> str:
        """The seed noise and its bar, in the check's words."""
        best_of, one_run = self._bars(self.seeds)
        test = (f"for the best of {self.compared} runs: a spread that reads low lowers an optimism read at it too"
                if self.compared > 1 and best_of >= one_run else "Student's t")  # fmt: skip
        return (f"seed noise {self.spread:.3g} (the baseline's over {self.seeds} seeds): one run against their mean "
                f"is beyond chance above {self.bar():.3g} (one-sided {_LEVEL:.0%} on {self.seeds - 1} degrees of "
                f"freedom, {test})")  # fmt: skip


@dataclass(frozen=True)
class _Welch:
    """The winner's mean over its re-runs against the baseline's mean over its seeds, the two run on different
    seeds: Welch's one-sided t-test of the difference of two means, at `_LEVEL` over the ``candidates`` the runs
    picked the winner from (Bonferroni, as the paired test). The winner's spread is read from ``winner_spread_seeds``
    runs, the baseline's from its own seeds; a baseline run once lends no spread, so the winner's stands for both.

    It replaced one seed standard deviation as the bar: on three seeds each, two configurations alike passed 14% of
    the time and on five 7% (a one-sided 5% test is meant), and on ten seeds a true gain needed a larger margin
    than the means' noise called for."""

    winner_spread: float
    winner_seeds: int
    winner_spread_seeds: int
    base_spread: float
    base_seeds: int
    candidates: int

    @classmethod
    def of(cls, rerun: _Rerun, baseline: BaselineAttr) -> _Welch:
        seeds = len(baseline.values or ())
        base_spread = float(baseline.std or 0.0) if seeds >= 2 else rerun.std
        return cls(rerun.std, max(1, rerun.seeds), max(2, rerun.spread_seeds), base_spread, max(1, seeds),
                   rerun.candidates)  # fmt: skip

    @property
    def level(self) -> float:
        return _LEVEL / self.candidates

    def bar(self, seeds: int | None = None) -> float:
        """How far the difference of the means must exceed zero, each mean over its runs or over ``seeds`` runs
        each (the spreads' degrees of freedom grow with them)."""
        from scipy.stats import t as student

        winner_runs, base_runs = (self.winner_seeds, self.base_seeds) if seeds is None else (seeds, seeds)
        winner_df = self.winner_spread_seeds - 1 if seeds is None else seeds - 1
        base_df = max(1, self.base_seeds - 1) if seeds is None else seeds - 1
        parts = (self.winner_spread**2 / winner_runs, self.base_spread**2 / base_runs)
        variance = sum(parts)
        if variance <= 0.0:
            return 0.0
        degrees = variance**2 / (parts[0] ** 2 / winner_df + parts[1] ** 2 / base_df)  # Welch-Satterthwaite
        return float(student.ppf(1.0 - self.level, degrees)) * math.sqrt(variance)

    def seeds_to_clear(self, gain: float) -> int | None:
        """The fewest seeds for each whose bar lies below ``gain`` (``None``: none up to `MOST_SEEDS`)."""
        if self.bar(MOST_SEEDS) >= gain:
            return None
        low, high = 1, MOST_SEEDS  # the bar at low is unbounded, at high below the gain
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self.bar(middle) < gain else (middle, high)
        return high

    def words(self) -> str:
        """The seed noise and its bar, in the check's words."""
        picked = f" for the best of {self.candidates} candidates" if self.candidates > 1 else ""
        return (f"seed noise {self.winner_spread:.3g} over the winner's {self.winner_seeds} runs and "
                f"{self.base_spread:.3g} over the baseline's {self.base_seeds} seeds, run on different seeds: the two "
                f"means differ beyond chance above {self.bar():.3g} (Welch's one-sided t-test at "
                f"{self.level:.2%}{picked})")  # fmt: skip

    def advice(self, gain: float, pair: str, own: float) -> str:
        """What would decide a positive (or, `_undecided`, a shortfall's) ``gain`` below this bar: more seeds for
        both, or pairing them (``pair`` says how), where a seed's luck the two share cancels; and more validation
        examples when the winner's own sampling bar ``own`` lies above the gain too."""
        seeds = self.seeds_to_clear(gain)
        more = (f"about {seeds} seeds for each (now {self.winner_seeds} and {self.base_seeds}) would bring it below "
                "the gain" if seeds is not None else
                "no practical number of seeds would bring it below the gain")  # fmt: skip
        text = (f"the seed bar ({self.bar():.3g}) lies above the gain: {more}, or the winner and the baseline run on "
                "the same seeds would be compared seed by seed, where a seed's luck they share cancels "
                f"({pair})")  # fmt: skip
        if own >= gain:
            text += (f"; and about {(own / gain) ** 2:.1f}x the validation examples for the winner's sampling noise "
                     f"({own:.3g})")  # fmt: skip
        return text


@dataclass(frozen=True)
class _UnpairedBars:
    """The unpaired rule's bars: the seed bar, one seed standard deviation ``seed_noise`` or, for the search's
    single run, ``single``'s; and `Z_ONE_SIDED_95` standard errors of the difference, the winner's sampling noise
    ``winner`` combined with the baseline mean's ``base_error``."""

    seed_noise: float
    winner: Noise | None
    base_error: float
    single: _SingleRun | None = None
    welch: _Welch | None = None

    def advice(self, gain: float, pair: str) -> str:
        """What would decide a positive (or, `_undecided`, a shortfall's) ``gain`` within these bars. More seeds do
        not lower one seed standard deviation (the spread of a mean over re-runs, or a single run's own noise), nor
        more examples the baseline mean's error: either above the gain needs the two models run on the same seeds
        and compared seed by seed (``pair`` says how), where the bar falls with the square root of the seeds. More
        baseline seeds lower a single run's seed bar down to its own noise; more validation examples the winner's
        own sampling noise."""
        own = Z_ONE_SIDED_95 * self.winner.stderr if self.winner is not None else 0.0
        baseline_part = Z_ONE_SIDED_95 * self.base_error if self.winner is not None else 0.0
        sampling = math.hypot(own, baseline_part)
        seed_bar = (self.single.bar() if self.single is not None else self.welch.bar() if self.welch is not None
                    else self.seed_noise)  # fmt: skip
        hopeless = within_noise(gain, max(seed_bar, sampling))
        if hopeless is not None:
            return hopeless
        if self.welch is not None and seed_bar >= gain:
            return self.welch.advice(gain, pair, own)
        # The baseline seeds that would bring a single run's seed bar below the gain (None: none would, or it is)
        seeds = self.single.seeds_to_clear(gain) if self.single is not None and seed_bar >= gain else None
        unmoved = []  # bars above the gain that more of the data at hand cannot lower
        if self.single is not None and seed_bar >= gain and seeds is None:
            unmoved.append(f"the search's best's own noise, {self.single.floor:.3g} at 95% read from one seed standard "
                           f"deviation ({self.seed_noise:.3g}), which more seeds do not lower,")  # fmt: skip
        elif self.single is None and self.seed_noise >= gain:
            unmoved.append(f"one seed standard deviation ({self.seed_noise:.3g}), which more seeds do not lower,")
        if baseline_part >= gain:
            unmoved.append(f"the baseline mean's error across its seeds ({baseline_part:.3g} at "
                           f"{Z_ONE_SIDED_95:.3g} standard errors), which more examples do not lower,")  # fmt: skip
        if not unmoved:  # the bars more baseline seeds or more examples lower
            return self._more_data(gain, seeds, seed_bar, (own, baseline_part, sampling))
        paired = (f"{' and '.join(unmoved)} {'lies' if len(unmoved) == 1 else 'lie'} above the gain: the winner and "
                  "the baseline run on the same seeds would be compared seed by seed, with a bar that falls with the "
                  f"square root of the seeds ({pair})")  # fmt: skip
        if own < gain:
            return paired
        # The validation examples every seed shares: pairing keeps that noise, and only more examples lower it.
        more = f"about {(own / gain) ** 2:.1f}x the validation examples"
        return f"{paired}; and {more} for the winner's sampling noise ({own:.3g})"

    def _more_data(self, gain: float, seeds: int | None, seed_bar: float, sampling: tuple[float, float, float]) -> str:
        """What would decide a ``gain`` when every bar above it falls with more data: a single run's seed bar with
        ``seeds`` baseline seeds (``None``: that bar is below the gain), the sampling bar (``sampling``: the
        winner's part, the baseline mean's, and both combined) with more validation examples, down to the baseline
        mean's part, below the gain here."""
        own, baseline_part, bar = sampling
        examples = (f"about {own**2 / (gain**2 - baseline_part**2):.1f}x the validation examples",
                    f"the sampling bar ({bar:.3g})")  # fmt: skip
        if seeds is None or self.single is None:  # the sampling bar alone lies above the gain
            if self.single is not None:
                other = f"the seed bar ({seed_bar:.3g})"
            else:
                other = f"one seed standard deviation ({self.seed_noise:.3g})" if self.seed_noise > 0 else ""
            return one_remedy(examples, other)
        more_seeds = (f"about {seeds} baseline seeds (now {self.single.seeds}; ts.evaluate_baseline(study, "
                      f"objective, seeds={seeds}))", f"the seed bar ({seed_bar:.3g})")  # fmt: skip
        if bar >= gain:
            return (f"both bars lie above the gain, so neither more baseline seeds nor more examples alone would "
                    f"decide: {more_seeds[0]} would bring {more_seeds[1]} below it, and {examples[0]} "
                    f"{examples[1]}")  # fmt: skip
        return one_remedy(more_seeds, examples[1] if bar > 0 else "")


def _how_to_pair(rerun: _Rerun | None, entry: SeedCandidateAttr | None) -> str:
    """How to run the winner and the baseline on the same seeds: re-run the winner on the baseline's seeds, or run
    the baseline on the seeds the winner's score was read on (the seed list's first ones, which it replaces)."""
    if rerun is None or entry is None:
        return "ts.validate_top(study, objective) re-runs the winner on the baseline's seeds"
    seeds = len(entry.values or ()) + (len(entry.confirm_values or ()) if rerun.confirmation else 0)
    return (f"ts.evaluate_baseline(study, objective, seeds={seeds}) runs the baseline on the seeds the winner's "
            "score was read on")  # fmt: skip


def _all_failed(baseline: BaselineAttr) -> Check:
    """The margin when the baseline ran and no run gave a score: failed, for the winner was compared with nothing
    (it fails as undecided: the burden of proof lies on the winner, and the evidence is missing, not against it)."""
    runs = [SeedRun.from_json(run) for run in baseline.runs]
    reason = next((run.reason for run in runs if run.reason), None) or "no reason recorded"
    params = dict(baseline.params or {})
    return Check("baseline margin", False, (
        f"every baseline run failed ({len(runs)} of {len(runs)} seeds; the first: {reason.splitlines()[0]}), so "
        f"the winner was compared with nothing: fix the objective for the baseline {params!r} and run "
        "ts.evaluate_baseline(study, objective) again (ts.validate_top runs it first), or evaluate another with "
        "ts.evaluate_baseline(study, objective, params={...}), which replaces it"), decided=False)  # fmt: skip


def _baseline_failures(baseline: BaselineAttr) -> str:
    """`` (on 1 of 5 seeds: 4 failed)`` when some baseline runs failed, else nothing."""
    runs, values = len(baseline.runs), len(baseline.values or ())
    if runs <= values:
        return ""
    unknown = "; its seed spread unknown" if values < 2 else ""
    return f" (on {values} of {runs} seeds: {runs - values} failed{unknown})"
