"""One module per CLI command (imported lazily by cnncalc.cli)."""
