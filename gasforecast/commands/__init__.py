"""Subcommands of the `gasforecast` CLI, one module each (see gasforecast.cli)."""
