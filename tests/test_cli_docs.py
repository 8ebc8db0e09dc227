import os
from pathlib import Path

from dqhw.cli_docs import render


def test_cli_reference_is_current(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    page = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    assert os.environ["COLUMNS"] == "100"
    assert render() == page, "docs/cli.md is stale: run `COLUMNS=100 python -m dqhw.cli_docs > docs/cli.md`"
