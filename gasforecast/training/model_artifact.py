"""The registered model, logged as MLflow "model from code": this file plus its artifacts.

Whatever configuration wins (VAR, VECM, AR or a naive baseline), the registry holds one kind of
model: `predict` returns the forecast computed at training time up to the requested horizon, and
`fitted_model` holds the statsmodels results (when there are any) for analysts who load a version.
The file is self-contained (it imports nothing from gasforecast), so loading a version needs only
mlflow, pandas and statsmodels — not this project. For the same reason nothing imports it: the
registry logs it by path (`registry.MODEL_CODE`) and MLflow executes it when a version is loaded.
"""

import json
import pickle

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel, PythonModelContext


class PrecomputedForecaster(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        with open(context.artifacts["forecast"], encoding="utf-8") as handle:
            self.points = json.load(handle)["points"]
        fitted_path = context.artifacts.get("fitted_model")
        self.fitted_model = None
        if fitted_path:
            with open(fitted_path, "rb") as handle:
                self.fitted_model = pickle.load(handle)

    def predict(self, context: PythonModelContext, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """`model_input` has a column `horizon`; the first row's value picks how many days to return."""
        horizon = int(model_input["horizon"].iloc[0]) if len(model_input) else len(self.points)
        if not 1 <= horizon <= len(self.points):
            raise ValueError(f"horizon must be between 1 and {len(self.points)}")
        return pd.DataFrame(self.points[:horizon])


set_model(PrecomputedForecaster())
