"""Stance classifiers trained from the statements dataset (scikit-learn baselines, transformers), tracked in MLflow.

Public interface: `python -m training train|predict|ui`; `training.predict.load_predictor` for other packages;
`training.tracking` is the one module that talks to MLflow.
"""
