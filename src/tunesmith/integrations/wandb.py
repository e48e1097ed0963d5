"""Live Weights & Biases tracking: a run per trial, grouped under the study's name, metrics as they are reported.

::

    from tunesmith.integrations.wandb import WandbCallback

    tracking = WandbCallback(project="mnist")       # mode="offline" (or WANDB_MODE=offline) logs locally
    study.optimize(objective, callbacks=[tracking])
    ts.finalize(study, evaluate)
    tracking.log_verdict(study)                    # a "verdict" run in the group: summary and verdict.json
    tracking.log_report(study, "report.html")     # a "report" run: the HTML report, shown and kept

A run per trial, as W&B sweeps and Ray Tune do, so W&B's group view compares trials and their
curves side by side: the run's config is the trial's parameters (and its number and seed), each
reported metric is logged at its step while the trial runs (the study's loop calls the observer as
each report arrives, from any executor), and at the end the summary holds the final metrics and
the trial's ``state``, ``kind`` and ``reason``; a failed trial's run exits with code 1. A value that is
not finite (a diverged loss) is logged as NaN, which W&B's summary holds as no value: the run never keeps
its last finite value as its latest, which sorting the runs by the metric would put first. A paused
trial's run stays open until it resumes, ends (retired unpromoted: its state then says ``stopped``) or the
``optimize`` call ends. Each report is committed as
W&B's row for its step at once, and steps must grow within a W&B run: a second report at a step
already logged is skipped. Needs ``pip install 'tunesmith[wandb]'``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.decision import Decision
from tunesmith.errors import require
from tunesmith.integrations._tracking import logged_values, report_file, verdict_json
from tunesmith.study import Observer
from tunesmith.trial import Trial, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study, StudyResult

__all__ = ["WandbCallback"]


class WandbCallback(Observer):
    """An `Observer` that logs each trial to W&B while it runs (pass it in ``optimize(callbacks=[...])``).

    Args:
        project: the W&B project (default: W&B's own, ``WANDB_PROJECT``).
        mode: ``"online"``, ``"offline"`` or ``"disabled"`` (default: W&B's own, ``WANDB_MODE``).
        dir: where W&B keeps its local files (default: W&B's own).
        group: the runs' group (default: the study's name).
        **init_options: passed to every ``wandb.init`` (``entity``, ``tags``, ``notes``, ``settings``).

    Attributes:
        runs: the open W&B run of each running trial, by trial number (log more to it from an inline
            objective if you like); a run leaves when its trial finishes.
    """

    def __init__(
        self,
        project: str | None = None,
        *,
        mode: str | None = None,
        dir: str | Path | None = None,
        group: str | None = None,
        **init_options: Any,
    ) -> None:
        self.project = project
        self.mode = mode
        self.dir = dir
        self.group = group
        self.init_options = init_options
        self.runs: dict[int, Any] = {}
        self._steps: dict[int, int] = {}

    def _init(self, study: Study, *, name: str, job_type: str, config: Mapping[str, Any]) -> Any:
        wandb: Any = require("wandb", "wandb")
        options: dict[str, Any] = {"settings": wandb.Settings(console="off", silent=True), **self.init_options}
        if self.dir is not None:
            Path(self.dir).mkdir(parents=True, exist_ok=True)
            options["dir"] = str(self.dir)
        return wandb.init(
            project=self.project, mode=self.mode, group=self.group or study.name, job_type=job_type, name=name,
            config=dict(config), reinit="create_new", **options,
        )  # fmt: skip

    # Hooks ------------------------------------------------------------------------------------------
    def on_trial_start(self, study: Study, trial: Trial) -> None:
        if trial.number in self.runs:  # a paused trial resumed in this call: its run is still open
            return
        config = {**trial.params, "tunesmith.trial": trial.number, "tunesmith.seed": trial.seed,
                  "tunesmith.study": study.name}  # fmt: skip
        self.runs[trial.number] = self._init(
            study, name=f"{study.name}-trial-{trial.number}", job_type="trial", config=config
        )

    def on_report(self, study: Study, number: int, step: int, metrics: Mapping[str, float], decision: Decision) -> None:
        run = self.runs.get(number)
        values = logged_values(metrics)
        if run is None or not values or step <= self._steps.get(number, -1):
            return
        self._steps[number] = int(step)
        run.log(values, step=int(step), commit=True)  # committed now, not when the next step comes

    def on_trial_end(self, study: Study, record: TrialRecord) -> None:
        run = self.runs.get(record.number)
        if run is None:
            return
        run.config.update(record.params, allow_val_change=True)  # define-by-run parameters arrive late
        kind = record.kind.value if record.kind else ""
        run.summary.update({**logged_values(record.metrics), "state": record.state.value, "kind": kind,
                            "reason": record.reason or ""})  # fmt: skip
        if record.state is TrialState.PAUSED:
            return
        self._close(record.number, exit_code=1 if record.state is TrialState.FAILED else 0)

    def on_optimize_end(self, study: Study, result: StudyResult | None) -> None:
        for number in list(self.runs):  # paused trials, or trials the loop's failure left behind
            self._close(number, exit_code=0 if result is not None else 1)

    def _close(self, number: int, exit_code: int) -> None:
        run = self.runs.pop(number)
        self._steps.pop(number, None)
        run.finish(exit_code=exit_code)

    # After the run -----------------------------------------------------------------------------------
    def log_verdict(self, study: Study) -> str:
        """Log the study's verdict (written by ``ts.finalize``) as a ``verdict`` run in the study's group:
        the summary holds ``verdict`` (pass / warn / fail), ``ready`` and ``summary``; ``verdict.json``
        is an artifact. Returns the run's id."""
        verdict = verdict_json(study)
        wandb: Any = require("wandb", "wandb")
        run = self._init(
            study, name=f"{study.name}-verdict", job_type="verdict", config={"tunesmith.study": study.name}
        )
        try:
            run.summary.update({"verdict": verdict.get("status"), "ready": verdict.get("ready"),
                                "summary": verdict.get("summary") or "", "stale": verdict.get("stale")})  # fmt: skip
            artifact = wandb.Artifact(f"{_artifact_name(study.name)}-verdict", type="verdict")
            with artifact.new_file("verdict.json") as fh:
                fh.write(json.dumps(verdict, indent=2))
            run.log_artifact(artifact)
        finally:
            run.finish()
        return str(run.id)

    def log_report(self, study: Study, path: str | Path) -> str:
        """Log a report file (``tunesmith.report.write_report``'s HTML) as a ``report`` run in the study's
        group: shown as an HTML panel and kept as an artifact. Returns the run's id."""
        target = report_file(path)
        wandb: Any = require("wandb", "wandb")
        run = self._init(study, name=f"{study.name}-report", job_type="report", config={"tunesmith.study": study.name})
        try:
            run.log({"report": wandb.Html(target.read_text(encoding="utf-8"), inject=False)})
            artifact = wandb.Artifact(f"{_artifact_name(study.name)}-report", type="report")
            artifact.add_file(str(target))
            run.log_artifact(artifact)
        finally:
            run.finish()
        return str(run.id)


def _artifact_name(name: str) -> str:
    """A W&B artifact name (letters, digits, ``-``, ``_`` and ``.``) for a study name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name) or "study"
