"""trial_timeout is seconds: a config may write a duration string as for wall_time; a bool or text elsewhere is
refused with the key, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.config import load_config
from tunesmith.errors import ConfigError
from tunesmith.executors.processes import ProcessExecutor

CONFIG = """
objective = "objectives:quadratic"
trial_timeout = {value}
[metric]
name = "loss"
direction = "min"
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


def _config(folder: Path, value: str) -> Path:
    path = folder / "study.toml"
    path.write_text(CONFIG.format(value=value))
    return path


@pytest.mark.parametrize(("value", "seconds"), [("5", 5.0), ("2.5", 2.5), ('"5s"', 5.0), ('"2m"', 120.0),
                                                ('"1h30m"', 5400.0)])  # fmt: skip
def test_a_configs_trial_timeout_is_seconds_or_a_duration_like_wall_time(
    tmp_path: Path, value: str, seconds: float
) -> None:
    assert load_config(_config(tmp_path, value)).trial_timeout == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("true", "trial_timeout must be a positive number of seconds, got trial_timeout=True"),
        ("0", "trial_timeout must be a positive number of seconds, got trial_timeout=0"),
        ("-3", "trial_timeout must be a positive number of seconds, got trial_timeout=-3"),
        ("nan", "trial_timeout must be a positive number of seconds, got trial_timeout=nan"),
        ('"5 seconds"', "trial_timeout must be seconds or a duration such as '90s'"),
        ('"5x"', "got trial_timeout='5x'"),
        ("[5]", "got trial_timeout=[5]"),
    ],
)
def test_a_configs_trial_timeout_that_is_not_a_duration_is_refused_naming_it_and_the_fix(
    tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_config(tmp_path, value))

    assert message in str(error.value)
    assert str(error.value).endswith('write seconds or a duration, e.g. trial_timeout = 600 or trial_timeout = "10m"')


@pytest.mark.parametrize("value", [True, "5s", 0, float("inf")])
def test_the_process_executor_refuses_a_trial_timeout_that_is_not_seconds(value: object) -> None:
    with pytest.raises(ConfigError, match=r"trial_timeout must be a positive number of seconds or None, got "
                                          r"trial_timeout=.*: pass seconds, e.g. trial_timeout=600"):  # fmt: skip
        ProcessExecutor(1, trial_timeout=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, "5s", 0, float("inf")])
def test_the_ray_executor_refuses_a_trial_timeout_that_is_not_seconds(value: object) -> None:
    pytest.importorskip("ray")
    from tunesmith.executors.ray import RayExecutor

    with pytest.raises(ConfigError, match=r"trial_timeout must be a positive number of seconds or None, got "
                                          r"trial_timeout=.*: pass seconds, e.g. trial_timeout=600"):  # fmt: skip
        RayExecutor(1, trial_timeout=value)  # type: ignore[arg-type]
