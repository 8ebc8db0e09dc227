"""The one way dqhw writes generated source text (Verilog, C++): a template file next to the code
that fills it, `${name}` placeholders (string.Template; `$$` is a literal `$`), every placeholder
given a value (a missing one is an error, never an empty hole)."""

from __future__ import annotations

import functools
import string
from pathlib import Path


@functools.cache
def _template(path: Path) -> string.Template:
    return string.Template(path.read_text())


def render(path: str | Path, **values) -> str:
    """The template file at `path` with its placeholders filled from `values` (str() of each)."""
    return _template(Path(path)).substitute({k: str(v) for k, v in values.items()})
