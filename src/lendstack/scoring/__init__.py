"""Credit risk models: features, scorecard and gradient-boosting PD, calibration, LGD, evaluation,
explanation (reason codes) and the model registry."""
