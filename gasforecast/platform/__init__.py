"""What every part runs on: settings, JSON logs, errors, events, Cloud Storage and Pub/Sub."""
