"""Write docs/cli.md from the argparse definitions (`python -m dqhw.cli_docs > docs/cli.md`).
tests/test_cli_docs.py fails when the page and the parsers drift apart."""

from __future__ import annotations

import importlib
import io
from contextlib import redirect_stdout

from dqhw.cli import COMMANDS, _parser

INTRO = """# Command reference

Generated from the parsers by `python -m dqhw.cli_docs > docs/cli.md` (a test keeps it current).
Every command prints one line `dqhw COMMAND: error: ...` and exits non-zero on bad input
(2: usage or input error, 3: a mismatch between the hardware and the golden model).
Make targets: `make demo`, `make test`, `make sim [BUILD=DIR] [SHARD=i/n] [WAVES=1] [LIMIT=N]`,
`make lint`, `make bench`.
"""


def render() -> str:
    parser, subs = _parser()
    parts = [INTRO]
    for name, (module, help_text) in COMMANDS.items():
        importlib.import_module(module).add_arguments(subs[name])
        buf = io.StringIO()
        with redirect_stdout(buf):
            subs[name].print_help()
        parts.append(f"## dqhw {name}\n\n{help_text}.\n\n```\n{buf.getvalue().rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
