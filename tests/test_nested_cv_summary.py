"""The nested-CV summary labels its uncertainty: the estimate's standard error, with the fold scores' spread beside
it, and an inner score below the outer one is said so, never as a negative optimism."""

from __future__ import annotations

import pytest

from tunesmith.discipline import NestedCVResult


def result(outer: tuple[float, ...], inner: tuple[float, ...]) -> NestedCVResult:
    return NestedCVResult(outer_scores=outer, inner_best_scores=inner, best_params=tuple({} for _ in outer))


def test_the_estimate_carries_its_standard_error_and_the_fold_scores_spread_is_named_as_such() -> None:
    nested = result((1.0, 0.9667, 0.9667, 0.9667, 0.9333), (0.96, 0.95, 0.95, 0.95, 0.97))
    assert nested.stderr == pytest.approx(nested.std / 5**0.5)
    summary = nested.summary()
    assert summary.startswith(f"nested CV over 5 outer folds: 0.9667 +- {nested.stderr:.4f} (a standard error over "
                              f"the folds, a little small since their models share training rows; the fold scores' "
                              f"sd is {nested.std:.4f})")  # fmt: skip
    assert "the inner tuning reported 0.9560: it falls short of it by 0.0107 +- " in summary
    assert "optimistic by -" not in summary


def test_an_inner_score_above_the_outer_one_flatters_it() -> None:
    summary = result((0.90, 0.92, 0.91), (0.97, 0.98, 0.97)).summary()
    assert "the inner tuning reported 0.9733: it flatters it by 0.0633 +- " in summary
    assert "beyond their noise" in summary


def test_one_fold_has_no_standard_error() -> None:
    nested = result((0.9,), (0.95,))
    assert nested.stderr is None
    assert nested.summary().startswith("nested CV over 1 outer folds: 0.9000; the inner tuning reported 0.9500")
