"""The local stack: real emulators and servers on 127.0.0.1, for the demo and the integration tests.

Nothing here is deployed; it reproduces the Google Cloud wiring (GCS notifications → Pub/Sub push →
functions, MLflow with a SQL backend and bucket artifacts, the service) with the same code paths.
"""
