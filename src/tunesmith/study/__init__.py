"""The study: the only place that coordinates space, sampler, scheduler, budget, storage and executor.

`Study` (in `_study`) is the public face: ask / report / tell, read access and `optimize`. Behind it,
one module per responsibility: `_spec` (the stored definition), `_outcome` (judging results and
divergence), `_limits` (wall-time and resource limits), `_optimize` (the loop), `_recovery`
(heartbeats, reaping, re-queueing) and `_checkpoints` (checkpoint folders).
"""

from tunesmith.study._checkpoints import CheckpointStore
from tunesmith.study._optimize import StudyResult
from tunesmith.study._outcome import Outcome
from tunesmith.study._spec import StudySpec
from tunesmith.study._study import Study, trial_seed

__all__ = ["CheckpointStore", "Outcome", "Study", "StudyResult", "StudySpec", "trial_seed"]
