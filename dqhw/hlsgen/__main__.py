"""`python -m dqhw.hlsgen BUILD`: (re)write BUILD/hls from BUILD/dataflow.onnx (a build made before the
HLS step existed, or after editing hls/)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dqhw.errors import DqhwError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m dqhw.hlsgen BUILD", file=sys.stderr)
        return 2
    build = Path(args[0])
    try:
        if not (build / "dataflow.onnx").is_file():
            raise DqhwError(f"{build}: no dataflow.onnx (run dqhw build first)")
        info = json.loads((build / "build.json").read_text()) if (build / "build.json").is_file() else {}
        from dqhw.hlsgen.generate import generate_hls

        board = info.get("board") or {}
        generate_hls(build / "dataflow.onnx", build / "hls", board.get("part", "xc7z020clg400-1"),
                     float(info.get("clock_ns", 10.0)))
    except DqhwError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(f"wrote {build / 'hls'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
