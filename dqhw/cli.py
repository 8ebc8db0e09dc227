"""`dqhw` command line. Each subcommand lives in its own module exposing `add_arguments(parser)` and
`run(args) -> int`; modules are imported only when their command runs (torch/finn imports are slow).

User errors (DqhwError) print one line `dqhw: error: ...` and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMANDS = {
    "train": ("dqhw.commands.train", "Brevitas QAT with the DQ regularizer; writes a run directory"),
    "attack": ("dqhw.commands.attack", "craft a uint8 adversarial set for a run (RUN/adv/*.npz)"),
    "eval": ("dqhw.commands.evaluate", "robustness report (Markdown + JSON + PNG) for one or more runs"),
    "build": ("dqhw.commands.build", "QONNX -> FINN flow -> folded dataflow graph -> RTL for a board"),
    "sim": ("dqhw.commands.sim", "run clean + adversarial sets through the RTL (Verilator), bit-exact"),
    "run": ("dqhw.commands.run", "classify frames on a board over its serial host link (accuracy, frames/s)"),
    "reproduce": ("dqhw.commands.reproduce", "the paper's claims from one config: train, attack, eval, build, sim"),
    "mechanism": ("dqhw.commands.mechanism", "does DQ's mechanism work? a pre-registered experiment from one config"),
    "data": ("dqhw.commands.data", "download CIFAR-10 or SVHN (MD5-checked) into the layout dqhw reads"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`dqhw train: error: ...`) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from dqhw import __version__

    p = _Parser(prog="dqhw", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"dqhw {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    subs = {}
    for name, (_, help_text) in COMMANDS.items():
        subs[name] = sub.add_parser(name, help=help_text, description=help_text)
    return p, subs


def main(argv: list[str] | None = None) -> int:
    from dqhw.errors import DqhwError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser, subs = _parser()
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in COMMANDS:
        module = importlib.import_module(COMMANDS[command][0])
        module.add_arguments(subs[command])
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(module.run(args) or 0)
    except DqhwError as e:
        print(f"dqhw {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        print(f"dqhw {args.command}: interrupted{_notes(e)}", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001
        if os.environ.get("DQHW_DEBUG"):
            raise
        print(f"dqhw {args.command}: internal error: {type(e).__name__}: {e} "
              f"(set DQHW_DEBUG=1 for the traceback{_notes(e, '; ')})", file=sys.stderr)
        return 1


def _notes(e: BaseException, sep: str = " (") -> str:
    """The exception's notes (e.g. `build log: PATH`, dqhw.flow.workdir) on the same line."""
    notes = [" ".join(str(n).split()) for n in getattr(e, "__notes__", ())]
    if not notes:
        return ""
    return sep + "; ".join(notes) + (")" if sep == " (" else "")


if __name__ == "__main__":
    sys.exit(main())
