"""docs/architecture.md names every module and package of dqhw: a new one fails here until it is described."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_dqhw_module_and_package_is_in_the_architecture_doc():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    names = [p.stem for p in (ROOT / "dqhw").glob("*.py") if p.stem not in ("__init__", "__main__")]
    names += [p.name for p in (ROOT / "dqhw").iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    missing = sorted(n for n in names if f"dqhw.{n}" not in doc)
    assert not missing, f"docs/architecture.md does not describe: {', '.join('dqhw.' + n for n in missing)}"
