"""gasforecast: the core of the UK gas price forecasting pipeline.

Everything here is independent of HTTP and of the entry points (Cloud Functions, Cloud Run service,
Composer DAG), which only parse their events and call into this package.
"""

__version__ = "0.1.0"
