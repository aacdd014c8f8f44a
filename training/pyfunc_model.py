"""MLflow pyfunc wrapper (models from code) for a fine-tuned transformer: statement rows in, probabilities out.

Never imported by the package: training.tracking logs this file's path, and MLflow runs it when loading.
"""

import warnings

import mlflow.models
import mlflow.pyfunc

# MLflow asks for type hints on predict; the logged signature (training.tracking) describes the input instead.
warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method", category=UserWarning)


class StanceTransformerModel(mlflow.pyfunc.PythonModel):
    """Loads the saved model folder (artifact `hf_model`) with training.predict.TransformerPredictor."""

    def load_context(self, context):
        from training.predict import TransformerPredictor

        self.predictor = TransformerPredictor(context.artifacts["hf_model"])

    def predict(self, context, model_input, params=None):
        """A DataFrame of statement rows -> `label` plus one `p_<label>` column per codebook label."""
        import pandas as pd

        proba = self.predictor.predict_proba(model_input)
        labels = self.predictor.labels
        frame = pd.DataFrame(proba, columns=[f"p_{n}" for n in labels])
        frame.insert(0, "label", [labels[i] for i in proba.argmax(axis=1)])
        return frame


mlflow.models.set_model(StanceTransformerModel())
