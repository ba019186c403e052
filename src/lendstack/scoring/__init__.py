"""Credit risk models: features, scorecard and gradient-boosting PD models, calibration, LGD,
evaluation, reason codes, the model registry and fast inference.

Reject inference is out of scope: models learn from approved, matured loans only.
"""

from lendstack.scoring.credit_model import (
    CreditModel,
    TrainOptions,
    data_fingerprint,
    evaluate_credit_model,
    train_credit_model,
)
from lendstack.scoring.errors import ArtifactError, DataError, LeakError
from lendstack.scoring.features import FeatureDef, FeaturePipeline, FeatureSpec, encode_target, read_table
from lendstack.scoring.models import CalibratedModel, GBMModel, LGDModel, ScorecardModel, expected_loss
from lendstack.scoring.registry import Registry, load_artifact, save_artifact

__all__ = [
    "ArtifactError", "CalibratedModel", "CreditModel", "DataError", "FeatureDef", "FeaturePipeline",
    "FeatureSpec", "GBMModel", "LGDModel", "LeakError", "Registry", "ScorecardModel", "TrainOptions",
    "data_fingerprint", "encode_target", "evaluate_credit_model", "expected_loss", "load_artifact",
    "read_table", "save_artifact", "train_credit_model",
]
