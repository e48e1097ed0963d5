"""The verdict's thresholds are fractions; a percentage written as one is refused with the fraction it means."""

from __future__ import annotations

import pytest

from tunesmith.discipline.holdout import Thresholds
from tunesmith.errors import ConfigError


def test_a_gap_limit_written_as_a_percentage_is_refused_with_the_fraction_it_means() -> None:
    """``gap=2`` was read as 200%: a leak of 35 points then passed 'within the limit' and the verdict read ready."""
    with pytest.raises(ConfigError, match=r"got gap=2: thresholds are fractions \(0.02 is 2%\): for 2% pass gap=0.02"):
        Thresholds(gap=2)


@pytest.mark.parametrize("name", ["seed_cv", "slice", "shift"])
def test_every_threshold_above_one_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"for 5% pass {name}=0.05"):
        Thresholds(**{name: 5})


def test_a_threshold_of_one_or_less_stands() -> None:
    assert Thresholds(gap=1.0, slice=0.0).gap == 1.0
