"""The forecast ledger and the track record: every published forecast scored against what happened."""
