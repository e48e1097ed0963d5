"""Analysis of a study's trials: hyperparameter importance and failure diagnosis.

- `importance`: fANOVA importance of each parameter and pair, from a random forest.
- `classify_curves`: each trial's failure signature from its learning curve.
- `diagnose`: signatures attributed to parameters and turned into suggestions.
"""

from tunesmith.analysis._common import NotEnoughTrials
from tunesmith.analysis.curves import CurveDiagnosis, Signature, SignatureThresholds, classify_curves
from tunesmith.analysis.diagnose import Attribution, Diagnosis, Rule, Suggestion, diagnose
from tunesmith.analysis.importance import ImportanceResult, ParamImportance, importance

__all__ = [
    "Attribution",
    "CurveDiagnosis",
    "Diagnosis",
    "ImportanceResult",
    "NotEnoughTrials",
    "ParamImportance",
    "Rule",
    "Signature",
    "SignatureThresholds",
    "Suggestion",
    "classify_curves",
    "diagnose",
    "importance",
]
