"""The registered model: a pyfunc that serves the forecast computed at training time.

Whatever configuration wins (VAR, VECM, AR or a naive baseline), the registry holds one kind of
model: `predict` returns the precomputed points up to the requested horizon, and `fitted_model`
keeps the statsmodels results (when there are any) for analysts who load the version.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

PIP_REQUIREMENTS = [
    "numpy==2.4.6",
    "pandas==3.1.1",
    "statsmodels==0.15.0",
    "scipy==1.17.1",
]


class PrecomputedForecaster(mlflow.pyfunc.PythonModel):
    def __init__(self, points: list[dict], fitted_model: object | None) -> None:
        self.points = points
        self.fitted_model = fitted_model

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """`model_input` has a column `horizon`; the first row's value picks how many days to return."""
        horizon = int(model_input["horizon"].iloc[0]) if len(model_input) else len(self.points)
        if not 1 <= horizon <= len(self.points):
            raise ValueError(f"horizon must be between 1 and {len(self.points)}")
        return pd.DataFrame(self.points[:horizon])
