"""The documents training publishes for the service (forecast, track record, model card) and the serving pointer."""
