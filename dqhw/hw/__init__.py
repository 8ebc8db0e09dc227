"""Package-data anchor for rtl/, sim/, flows/, hls/ (see pyproject.toml)."""
