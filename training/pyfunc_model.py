"""MLflow pyfunc wrapper (models from code) for a fine-tuned transformer: statement rows in, probabilities out.

Never imported by the package: training.tracking logs this file's path, and MLflow runs it when loading.
"""

from typing import Any

import mlflow.models
import mlflow.pyfunc
import pandas as pd

# `model_input: pd.DataFrame`: MLflow takes a DataFrame hint as "no schema from the hint", so the signature logged
# by training.tracking (statement columns in, label and p_<label> out) is the one it validates against.


class StanceTransformerModel(mlflow.pyfunc.PythonModel):
    """Loads the saved model folder (artifact `hf_model`: a fine-tuned transformer, or an ensemble of stance models,
    training.ensemble) with training.predict."""

    def load_context(self, context: Any) -> None:
        from pathlib import Path

        from training.predict import load_folder

        self.predictor = load_folder(Path(context.artifacts["hf_model"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """A DataFrame of statement rows -> `label` plus one `p_<label>` column per codebook label."""
        proba = self.predictor.predict_proba(model_input)
        labels = self.predictor.labels
        frame = pd.DataFrame(proba, columns=[f"p_{n}" for n in labels])
        frame.insert(0, "label", [labels[i] for i in proba.argmax(axis=1)])
        return frame


mlflow.models.set_model(StanceTransformerModel())
