"""With several objectives, pruning keeps the checkpoints of the whole Pareto front (any of them may be the model
`Study.choose` hands back) and of the recorded choice, not the best trials by the first metric alone."""

from __future__ import annotations

from pathlib import Path

import tunesmith as ts


def _study(tmp_path: Path, keep: int, trials: int = 12) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0, 1), "y": ts.Float(0, 0.5)}),
                    metrics=[ts.Metric("error"), ts.Metric("latency_ms")], budget=ts.Budget(trials=trials),
                    storage="memory", seed=0, sampler="random", keep_checkpoints=keep,
                    checkpoint_dir=tmp_path)  # fmt: skip


def _kept(study: ts.Study) -> set[int]:
    return {r.number for r in study.trials if any(study.trial_checkpoint_dir(r.number).glob("*"))}


def test_every_trial_on_the_pareto_front_keeps_its_checkpoint_beyond_keep_checkpoints(tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        x, y = trial.params["x"], trial.params["y"]
        trial.save_checkpoint({"weights": [x, y]})
        return {"error": x + y, "latency_ms": 10 * (1 - x) + y}

    study = _study(tmp_path, keep=3)
    study.optimize(objective)
    front = {r.number for r in study.pareto_front}
    assert len(front) > 3, "the front is larger than keep_checkpoints, as in the report"
    assert front <= _kept(study)


def test_the_chosen_trial_keeps_its_checkpoint_once_a_later_trial_dominates_it(tmp_path: Path) -> None:
    study = _study(tmp_path, keep=1, trials=2)
    first = study.ask()
    first.save_checkpoint({"weights": [1.0]})
    study.tell(first, {"error": 1.0, "latency_ms": 1.0})
    assert study.choose(ts.choose.knee()).number == first.number
    better = study.ask()
    better.save_checkpoint({"weights": [2.0]})
    study.tell(better, {"error": 0.5, "latency_ms": 0.5})  # dominates the choice: the front is this trial alone
    assert [r.number for r in study.pareto_front] == [better.number]
    assert _kept(study) == {first.number, better.number}
