"""From an uploaded CSV to the curated dataset: the data contract, plausibility, revisions, the merge."""
