"""Analysis of a study's trials: hyperparameter importance and failure diagnosis.

- `importance`: fANOVA importance of each parameter and pair, from a random forest.
- `classify_curves`: each trial's failure signature from its learning curve.
- `diagnose`: signatures attributed to parameters and turned into suggestions.
- `early_signal`: whether the values early in training ranked the final ones (what early stopping rests on).
"""

from tunesmith.analysis._common import NotEnoughTrials
from tunesmith.analysis.curves import CurveDiagnosis, Signature, SignatureThresholds, classify_curves
from tunesmith.analysis.diagnose import Attribution, Diagnosis, Rule, Suggestion, diagnose
from tunesmith.analysis.early_signal import EarlySignal, RungSignal, early_signal
from tunesmith.analysis.importance import ImportanceResult, ParamImportance, importance

__all__ = [
    "Attribution",
    "CurveDiagnosis",
    "Diagnosis",
    "EarlySignal",
    "ImportanceResult",
    "NotEnoughTrials",
    "ParamImportance",
    "Rule",
    "RungSignal",
    "Signature",
    "SignatureThresholds",
    "Suggestion",
    "classify_curves",
    "diagnose",
    "early_signal",
    "importance",
]
