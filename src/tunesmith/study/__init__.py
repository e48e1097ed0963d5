"""The study: the only place that coordinates space, sampler, scheduler, budget, storage and executor.

`Study` (in `_study`) is the public face: ask / report / tell, read access and `optimize`. Behind it,
one module per responsibility: `_spec` (the stored definition), `_outcome` (judging results and
divergence), `_limits` (wall-time and resource limits), `_optimize` (the loop), `_observers` (the hooks
`optimize` calls as trials start, report and end: live tracking), `_recovery`
(heartbeats, reaping, re-queueing), `_retry` (failed trials re-queued after a fix), `_known` (enqueued
configurations, invalidated trials), `_warm_start` (earlier results for the samplers) and `_checkpoints`
(checkpoint folders).
"""

from tunesmith._checkpoint_file import CheckpointWriteError
from tunesmith.study._checkpoints import CheckpointMissing, CheckpointStore, CheckpointWarning
from tunesmith.study._limits import (
    MIN_FULLY_TRAINED,
    HoldoutSpentWarning,
    PausedTrialsWarning,
    PopulationWarning,
    ResourceAxisWarning,
    ShortTrainingWarning,
    trained_fully,
)
from tunesmith.study._observers import Observer
from tunesmith.study._optimize import (
    AllTrialsFailedWarning,
    NoFeasibleTrialWarning,
    NotOptimizing,
    ObjectiveError,
    StudyResult,
)
from tunesmith.study._outcome import Outcome
from tunesmith.study._recovery import ResultDiscardedWarning, gone_notes
from tunesmith.study._settings import DEFAULT_GRACE
from tunesmith.study._spec import StudySpec
from tunesmith.study._study import Study, trial_seed
from tunesmith.study._validation_set import ExampleCountWarning
from tunesmith.study._warm_start import WarmStart, WarmStartWarning

__all__ = [
    "DEFAULT_GRACE",
    "MIN_FULLY_TRAINED",
    "AllTrialsFailedWarning",
    "CheckpointMissing",
    "CheckpointStore",
    "CheckpointWarning",
    "CheckpointWriteError",
    "ExampleCountWarning",
    "HoldoutSpentWarning",
    "NoFeasibleTrialWarning",
    "NotOptimizing",
    "ObjectiveError",
    "Observer",
    "Outcome",
    "PausedTrialsWarning",
    "PopulationWarning",
    "ResourceAxisWarning",
    "ResultDiscardedWarning",
    "ShortTrainingWarning",
    "Study",
    "StudyResult",
    "StudySpec",
    "WarmStart",
    "WarmStartWarning",
    "gone_notes",
    "trained_fully",
    "trial_seed",
]
