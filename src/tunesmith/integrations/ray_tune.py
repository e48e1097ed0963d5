"""`TunesmithSearch`: a Ray Tune search algorithm that asks a tunesmith study for each configuration.

Needs the ``ray`` extra (``pip install 'tunesmith[ray]'``); importing this module without Ray raises
`MissingExtra`. The study's sampler (``"auto"``: quasi-random, then a GP or TPE) proposes every configuration, and
the study records every Ray Tune trial in tunesmith's storage, its curve and how it ended, so that ``tunesmith
status``, ``tunesmith report``, `tunesmith.validate_top` and `tunesmith.finalize` read a Ray Tune run as they read
their own::

    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from tunesmith.integrations.ray_tune import TunesmithSearch

    study = ts.Study(space, metric="val_loss", budget=ts.Budget(trials=60), storage="sqlite:///tune.db", name="mlp")
    asha = ASHAScheduler(metric="val_loss", mode="min", max_t=30)   # Ray Tune's schedulers need the metric
    tuner = tune.Tuner(train, tune_config=tune.TuneConfig(search_alg=TunesmithSearch(study, max_t=30),
                                                          scheduler=asha, num_samples=-1))
    tuner.fit()   # ends when the study's budget is spent (num_samples=-1: as many as the study allows)

The space, the metric and its direction are the study's: a ``param_space`` with search domains, or a metric or mode
other than the study's, is refused, since the configurations Ray Tune runs would not be the ones recorded. Ray Tune
runs and stops the trials (its scheduler, ``ASHAScheduler``, decides early stopping), so the study's own scheduler
must be FIFO. Each result Ray Tune receives is reported to the trial at its ``training_iteration``, with every
number in it but Ray Tune's own bookkeeping (``AUTO_RESULT_KEYS``, ``done``, ``trial_id``...) and the
configuration it carries (``config/x``). A trial whose
trainable returned, or that reached ``max_t`` iterations (``TunesmithSearch(study, max_t=...)``: ASHAScheduler's
``max_t``, which stops a trial there), is told its last result, judged as `Study.tell` judges (guardrails, a missing
or non-finite metric). One that Ray Tune ended before (its scheduler or a stopper decided on a result, which Ray Tune
then hands the searcher only as the trial's last) is recorded STOPPED, of kind SCHEDULER, so that the study never
counts it as trained to the end. One that raised is recorded FAILED (Ray Tune keeps its traceback in the trial's
folder: `ResultGrid.errors`). A trial the study stops itself, its loss diverged (`Study`'s ``divergence_factor``) or
its resource or wall-time budget spent, is recorded STOPPED as such. A searcher cannot stop a trial: pass the
searcher's stopper, ``tune.RunConfig(stop=search.stopper)``, and Ray Tune stops it at the result the study stopped it
on; without it the trial trains on, and what it sends afterwards is not recorded, with one `TrainedOnWarning` per
trial. When the study's budget is spent (or its space used up), the searcher answers Ray Tune that it is finished.

The searcher pickles as the study's storage URL and name (Ray Tune saves it with its experiment) and reopens the
study with `Study.load` when unpickled; a study in ``"memory"`` storage cannot be reopened so. Which study trial each
Ray Tune trial in flight is goes into Ray Tune's experiment checkpoint (`TunesmithSearch.save`), so after
``Tuner.restore`` the trials Ray Tune resumes report to their study trials again (`Study.reattach`) and new ones are
asked for as before. A trial the study ended in between (reaped as lost once its ``grace`` passed without a
heartbeat, and re-run when it has ``retries``) is not attached again, with a `ResumedTrialWarning`. Before, the
searcher saved nothing, and Ray Tune, finding no checkpoint of it, logged an error and started the experiment again
from scratch.
"""

from __future__ import annotations

import json
import numbers
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunesmith._caller import outside_stacklevel
from tunesmith._text import counted
from tunesmith._validate import integer
from tunesmith.errors import (
    BudgetExhausted,
    ConfigError,
    SearchConverged,
    SearchSpaceExhausted,
    TrialNotRunning,
    require,
)
from tunesmith.schedulers import FIFO
from tunesmith.study import Study
from tunesmith.trial import Trial, TrialKind

require("ray", "ray")

from ray.tune.result import AUTO_RESULT_KEYS  # noqa: E402 - after the check that names the extra
from ray.tune.search import Searcher  # noqa: E402
from ray.tune.search.sample import Domain  # noqa: E402
from ray.tune.utils import flatten_dict  # noqa: E402

__all__ = ["ResumedTrialWarning", "TrainedOnWarning", "TunesmithSearch"]

# What Ray Tune adds to every result: bookkeeping, not metrics of the trial.
_RAY_KEYS = frozenset(AUTO_RESULT_KEYS) | {"done", "trial_id", "experiment_tag", "should_checkpoint", "warmup_time"}
_STOPPED_BY_RAY = "stopped by Ray Tune's scheduler or stopper before it finished"
# How Ray Tune names the configuration's entries in the flattened results it hands a searcher ("config/lr").
_CONFIG_PREFIX = "config/"


class TrainedOnWarning(UserWarning):
    """Ray Tune trains a trial on after the study stopped it (its budget spent, or the trial diverged): its later
    results are not recorded. ``tune.RunConfig(stop=search.stopper)`` stops it where the study does."""


class ResumedTrialWarning(UserWarning):
    """``Tuner.restore`` resumed a Ray Tune trial whose study trial had ended (reaped as lost, failed): its results
    are not recorded."""


class TunesmithSearch(Searcher):
    """A Ray Tune search algorithm backed by ``study`` (see the module's docstring).

    Args:
        study: the tunesmith study that proposes the configurations and records the trials; its scheduler must be
            FIFO (Ray Tune's scheduler stops trials) and it must have one objective.
        max_t: the ``training_iteration`` at which a trial has trained to the end (ASHAScheduler's ``max_t``), when
            Ray Tune stops trials there rather than the trainable returning; ``None``: only a trainable that
            returned has.

    Raises:
        ConfigError: ``study`` is no `Study`, has an early-stopping scheduler, or several objectives; ``max_t`` is
            no positive integer.
    """

    def __init__(self, study: Study, max_t: int | None = None) -> None:
        if not isinstance(study, Study):
            raise ConfigError(
                f"TunesmithSearch needs a tunesmith Study, got {type(study).__name__} {study!r}: pass "
                "TunesmithSearch(ts.Study(space, metric=..., budget=..., storage=..., name=...))"
            )
        if not isinstance(study.scheduler, FIFO):
            raise ConfigError(
                f"study {study.name!r} stops trials with its own scheduler ({study.scheduler.describe()}), but under "
                "Ray Tune, Ray Tune runs and stops the trials: open the study with scheduler=None (FIFO) and give "
                "Ray Tune its scheduler, tune.TuneConfig(scheduler=ASHAScheduler())"
            )
        if study.objectives:
            raise ConfigError(
                f"study {study.name!r} has {len(study.objectives)} objectives; TunesmithSearch searches one: "
                "open the study with metric=... (Ray Tune's multi-objective searchers take lists of metrics)"
            )
        super().__init__(metric=study.metric.name, mode=study.metric.direction)
        self._study = study
        self._max_t = integer("max_t", max_t, minimum=1, allow_none=True, fix="pass ASHAScheduler's max_t, e.g. 100")
        self._trials: dict[str, Trial] = {}  # Ray Tune's trial id -> the study's trial
        self._unrecorded: set[str] = set()  # Ray Tune's trials whose results no study trial records
        self._trained_on: set[str] = set()  # Ray Tune's trials that sent results after the study stopped them

    @property
    def study(self) -> Study:
        """The study that proposes the configurations and records the trials."""
        return self._study

    def stopper(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        """A Ray Tune stopper, ``tune.RunConfig(stop=search.stopper)``: it reports ``result`` to the study and stops
        the trial the study stopped (its budget spent, or the trial diverged). A searcher cannot stop a trial, and
        Ray Tune asks the stopper before it hands the searcher the result: without it, such a trial trains on, and
        what it sends after the stop is recorded nowhere (a `TrainedOnWarning` names it)."""
        trial = self._trials.get(trial_id)
        if trial is None:
            return False
        _report(trial, _flattened(result))
        return trial.should_stop()

    def set_search_properties(self, metric: str | None, mode: str | None, config: Mapping[str, Any],
                              **spec: Any) -> bool:  # fmt: skip
        """Check what ``tune.TuneConfig`` and ``param_space`` say against the study (Ray Tune calls it)."""
        study = self._study
        other_metric = metric is not None and metric != study.metric.name
        if other_metric or (mode is not None and mode != study.metric.direction):
            raise ConfigError(
                f"Ray Tune was given metric={metric!r}, mode={mode!r}, but study {study.name!r} optimises "
                f"{study.metric.name!r} ({study.metric.direction}): leave metric and mode out of tune.TuneConfig "
                "(TunesmithSearch passes the study's), or give the same"
            )
        domains = sorted(name for name, value in _flat(config) if isinstance(value, Domain))
        if domains:
            raise ConfigError(
                f"param_space holds search domains ({', '.join(domains)}), but the configurations come from study "
                f"{study.name!r}'s space: put those parameters in the study's ts.Space and keep only constants in "
                "param_space"
            )
        return True

    def suggest(self, trial_id: str) -> dict[Any, Any] | None:
        """The study's next configuration for Ray Tune's trial ``trial_id``; ``Searcher.FINISHED`` once the study's
        budget is spent, its space used up or the search converged."""
        try:
            trial = self._study.ask()
        except (BudgetExhausted, SearchSpaceExhausted, SearchConverged):
            return Searcher.FINISHED  # type: ignore[return-value]  # Ray documents it; its type says dict
        self._trials[trial_id] = trial
        return dict(trial.proposed)  # a trainable is handed its whole configuration: it asks for nothing by name

    def on_trial_result(self, trial_id: str, result: Mapping[str, Any]) -> None:
        """Report ``result``'s numbers to the trial at its ``training_iteration``. Results of a Ray Tune trial that no
        study trial runs (one ``Tuner.restore`` resumed after the study ended it: ``resume_errored=True`` on a
        trial recorded FAILED) are not recorded, with one `ResumedTrialWarning` per trial."""
        trial = self._trials.get(trial_id)
        if trial is not None:
            self._warn_trained_on(trial_id, trial, result)
            _report(trial, result)
        elif trial_id not in self._unrecorded:
            self._unrecorded.add(trial_id)
            warnings.warn(
                f"Ray Tune sends results of trial {trial_id}, which no trial of study {self._study.name!r} runs (the "
                "study ended it: a trial Tuner.restore resumed after it errored, say); they are not recorded: "
                "the study re-runs a failed trial when it has retries (ts.Study(..., retries=...))",
                ResumedTrialWarning,
                stacklevel=outside_stacklevel(),
            )

    def _warn_trained_on(self, trial_id: str, trial: Trial, result: Mapping[str, Any]) -> None:
        """Say, once per trial, that Ray Tune trains ``trial`` on after the study stopped it, and that what it sends
        from now on is recorded nowhere: it was dropped without a word, while the study counted a resource budget
        spent that Ray Tune went on spending."""
        step = result.get("training_iteration")
        if trial_id in self._trained_on or not trial.should_stop() or not isinstance(step, int) or step <= trial.step:
            return
        self._trained_on.add(trial_id)
        record = self._study.trials[trial.number]
        warnings.warn(
            f"Ray Tune trains trial {trial_id} (#{trial.number} of study {self._study.name!r}) on at iteration "
            f"{step}, though the study stopped it at step {trial.step} ({record.reason or 'stopped'}): a searcher "
            "cannot stop a trial, so its later results are not recorded, nor counted in the study's budget. Pass "
            "the searcher's stopper, tune.RunConfig(stop=search.stopper), and Ray Tune stops such a trial where the "
            "study stops it",
            TrainedOnWarning,
            stacklevel=outside_stacklevel(),
        )

    def on_trial_complete(self, trial_id: str, result: Mapping[str, Any] | None = None, error: bool = False) -> None:
        """Tell the study how the trial ended: its trainable returned (or it reached ``max_t``), Ray Tune cut it
        short, or it failed."""
        trial = self._trials.pop(trial_id, None)
        if trial is None:
            return
        if error:
            self._study.tell(trial, reason="Ray Tune reported an error", kind=TrialKind.EXCEPTION,
                             error="the trainable raised under Ray Tune: its traceback is in the trial's folder "
                                   "(ResultGrid.errors, or error.txt beside the trial's results)")  # fmt: skip
        elif result is None:  # ended before any result: nothing was evaluated
            self._study.tell(trial, reason="ended under Ray Tune without a result", kind=TrialKind.INTERRUPTED)
        else:
            step = result.get("training_iteration")
            # A trainable that returned sends its last result again (seen); a decision to stop (the scheduler's, a
            # stopper's) is taken on a result Ray Tune hands the searcher only here.
            returned = not isinstance(step, int) or step <= trial.step  # no iteration: judged on what it gave
            full = self._max_t is not None and isinstance(step, int) and step >= self._max_t
            _report(trial, result)
            if returned or full:
                self._study.tell(trial, _metrics(result))
            else:
                self._study.tell(trial, stopped=_STOPPED_BY_RAY)

    def save(self, checkpoint_path: str) -> None:
        """Ray Tune's experiment checkpoint: which study trial each Ray Tune trial in flight is (JSON). Everything
        else lives in the study's storage."""
        state = {"study": self._study.name, "trials": {key: trial.number for key, trial in self._trials.items()}}
        Path(checkpoint_path).write_text(json.dumps(state), encoding="utf-8")

    def restore(self, checkpoint_path: str) -> None:
        """Attach the Ray Tune trials in flight at the last `save` to their study trials again (``Tuner.restore``
        resumes them): each that storage still records RUNNING gets a handle (`Study.reattach`), so the results
        Ray Tune sends on are reported to it and its end is told. One the study ended meanwhile (reaped as lost
        after its ``grace``, re-run when the study has ``retries``) is left out, with a warning that names it."""
        state = json.loads(Path(checkpoint_path).read_text(encoding="utf-8"))
        if state.get("study") != self._study.name:
            raise ConfigError(
                f"Ray Tune's experiment checkpoint {checkpoint_path} is of study {state.get('study')!r}, but this "
                f"searcher records to study {self._study.name!r}: restore the experiment with the searcher it ran "
                "with (Tuner.restore reopens it from the experiment's folder)"
            )
        ended: list[str] = []
        for key, number in state.get("trials", {}).items():
            if key in self._trials:
                continue
            try:
                self._trials[key] = self._study.reattach(int(number))
            except TrialNotRunning:
                self._unrecorded.add(key)  # warned of here, once
                ended.append(f"{key} (#{number}, {self._study.trials[int(number)].state.value})")
        if ended:
            warnings.warn(
                f"Ray Tune resumes {counted(len(ended), 'trial')} that study {self._study.name!r} already ended: "
                f"{', '.join(ended)}; {'its' if len(ended) == 1 else 'their'} further results are not recorded (a "
                "trial reaped as lost is re-run when the study has retries): restore within the study's grace, or "
                "give it a longer one (ts.Study(..., grace=...))",
                ResumedTrialWarning,
                stacklevel=outside_stacklevel(),
            )

    def __reduce__(self) -> tuple[Any, ...]:
        return _reopened, (self._study.name, self._study.storage.url, self._max_t)


def _reopened(name: str, url: str, max_t: int | None) -> TunesmithSearch:
    """A searcher on study ``name`` reopened from ``url`` (unpickling)."""
    return TunesmithSearch(Study.load(name, url), max_t)


def _report(trial: Trial, result: Mapping[str, Any]) -> None:
    """Report ``result``'s numbers to ``trial`` at its ``training_iteration``, unless it reported that step already
    (a trainable's last result comes again when it returns) or the study stopped it (diverged: Ray Tune goes on)."""
    metrics = _metrics(result)
    step = result.get("training_iteration")
    if metrics and isinstance(step, int) and step > trial.step and not trial.should_stop():
        trial.report(step, **metrics)


def _metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of ``result`` a trial reports: every finite or non-finite number but Ray Tune's bookkeeping and
    the trial's configuration, which Ray Tune hands a searcher flattened (``config/lr``): recorded as metrics, every
    numeric parameter read as a curve and a result beside the trainable's own."""
    return {str(key): float(value) for key, value in result.items()
            if key not in _RAY_KEYS and not str(key).startswith(_CONFIG_PREFIX)
            and isinstance(value, numbers.Real) and not isinstance(value, bool)}  # fmt: skip


def _flattened(result: Mapping[str, Any]) -> dict[str, Any]:
    """``result`` as Ray Tune hands it a searcher: nested dicts flattened, their keys joined by ``/``."""
    return dict(flatten_dict(dict(result)))


def _flat(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``config``'s leaves with their dotted names (Ray Tune's param_space nests dicts)."""
    leaves: list[tuple[str, Any]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        leaves += _flat(value, f"{name}.") if isinstance(value, Mapping) else [(name, value)]
    return leaves
