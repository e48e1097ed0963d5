"""``tunesmith finalize --require-ready``: an exit code a pipeline gates on. Without it finalize exits 0 whatever the
verdict, and a script had to read ``ready`` from ``--json``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli

EVALUATIONS = """
import numpy as np


def close(params, seed):
    return {"holdout_acc": 0.95}


def far_worse(params, seed):
    return {"acc": np.arange(4000) % 100 < 70}  # 70% right on 4000 examples, against about 95% on validation
"""


def _objective(trial: ts.Trial) -> dict[str, float]:
    return {"acc": 0.9463 + 0.006 * trial.params["x"] + 1e-16 * (trial.seed % 3)}


def _searched(url: str, *, rerun: bool) -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), name="s", metric=ts.Metric("acc", "max"), sampler="random",
                     budget=ts.Budget(trials=8), storage=url, seed=0, baseline={"x": 0.0})  # fmt: skip
    study.optimize(_objective)
    if rerun:
        ts.validate_top(study, _objective, k=2, seeds=2)


def _per_example(url: str) -> None:
    def objective(trial: ts.Trial) -> dict[str, object]:
        return {"acc": np.random.default_rng(trial.seed).random(4000) < 0.95}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), name="s", metric=ts.Metric("acc", "max"), sampler="random",
                     budget=ts.Budget(trials=4), storage=url, seed=0)  # fmt: skip
    study.optimize(objective)


def _finalize(module: str, function: str, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["finalize", "s", "--storage", "sqlite:///s.db", "--evaluate",
                                    f"{module}:{function}", "--no-progress", *extra])  # fmt: skip


def test_a_ready_verdict_exits_0(tmp_path: Path, user_module: Callable[[str, str], str]) -> None:
    module = user_module("gate", EVALUATIONS)
    _searched("sqlite:///s.db", rerun=True)
    result = _finalize(module, "close", "--require-ready")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ready (")


def test_a_verdict_the_evidence_cannot_decide_exits_4_with_the_flag_and_0_without(
    tmp_path: Path, user_module: Callable[[str, str], str]
) -> None:
    module = user_module("gate", EVALUATIONS)
    _searched("sqlite:///s.db", rerun=False)
    gated = _finalize(module, "close", "--require-ready")
    assert gated.exit_code == 4, gated.output
    assert gated.output.startswith("not shown ready")
    # Without the flag the same verdict exits 0, printed and stored alike.
    _searched("sqlite:///t.db", rerun=False)
    plain = CliRunner().invoke(cli, ["finalize", "s", "--storage", "sqlite:///t.db", "--evaluate", f"{module}:close",
                                     "--no-progress"])  # fmt: skip
    assert plain.exit_code == 0 and plain.output == gated.output


def test_a_check_failed_on_decided_evidence_exits_3(tmp_path: Path, user_module: Callable[[str, str], str]) -> None:
    module = user_module("gate", EVALUATIONS)
    _per_example("sqlite:///s.db")
    result = _finalize(module, "far_worse", "--require-ready", "--json")
    assert result.exit_code == 3, result.output
    assert '"status": "fail"' in result.output


RUN_MODULE = """
import numpy as np


def objective(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    return {"acc": np.random.default_rng(trial.seed).random(4000) < 0.95}


def far_worse(params, seed):
    return {"acc": np.arange(4000) % 100 < 70}
"""


def _config(tmp_path: Path, module: str, holdout: bool) -> Path:
    table = f'\n[holdout]\nevaluate = "{module}:far_worse"\ntop = 2\nseeds = 2\n' if holdout else ""
    path = tmp_path / "study.toml"
    path.write_text(f'name = "r"\nobjective = "{module}:objective"\nstorage = "sqlite:///r.db"\nseed = 0\n'
                    f'[metric]\nname = "acc"\ndirection = "max"\n[budget]\ntrials = 6\n{table}')  # fmt: skip
    return path


def test_run_gates_on_its_configs_verdict(tmp_path: Path, user_module: Callable[[str, str], str]) -> None:
    module = user_module("gaterun", RUN_MODULE)
    config = str(_config(tmp_path, module, holdout=True))
    # Part of the budget: no verdict yet, so nothing is shown ready.
    part = CliRunner().invoke(cli, ["run", config, "--trials", "3", "--no-report", "--require-ready"])
    assert part.exit_code == 4, part.output
    # The rest: the holdout 25 points below validation on 4,000 examples fails the gap on decided evidence.
    rest = CliRunner().invoke(cli, ["run", config, "--no-report", "--require-ready"])
    assert rest.exit_code == 3, rest.output
    assert "not ready: " in rest.output


def test_run_refuses_the_gate_without_a_holdout_table(tmp_path: Path, user_module: Callable[[str, str], str]) -> None:
    module = user_module("gaterun", RUN_MODULE)
    result = CliRunner().invoke(cli, ["run", str(_config(tmp_path, module, holdout=False)), "--require-ready"])
    assert result.exit_code == 1
    assert "--require-ready gates on the verdict, which study.toml asks for with a [holdout] table" in result.output
    assert not (tmp_path / "r.db").exists(), "refused before anything ran"
