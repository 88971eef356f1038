"""Refit, compare with the champion, register in MLflow and promote: the retrain function's core."""
