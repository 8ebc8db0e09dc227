"""Where the non-Python parts (rtl/, sim/, flows/, hls/) are, installed or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def hw_dir(name: str) -> Path:
    """Path of rtl/, sim/, flows/ or hls/ (shipped as package data dqhw.hw.<name>)."""
    if name not in ("rtl", "sim", "flows", "hls"):
        raise ValueError(name)
    try:
        return Path(str(resources.files(f"dqhw.hw.{name}")))
    except ModuleNotFoundError:
        # running from a checkout without installing: the folders sit beside the package
        return Path(__file__).resolve().parent.parent / name
