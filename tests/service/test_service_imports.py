"""The service starts light: no MLflow client, no statsmodels, nothing heavy at import."""

import subprocess
import sys


def test_the_app_imports_without_mlflow_pandas_or_statsmodels():
    code = (
        "import sys, service.app; from gasforecast.platform.config import load_settings; load_settings(); "
        "print(sorted(m for m in ('mlflow', 'statsmodels', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
