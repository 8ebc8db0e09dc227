"""FINN's reference networks through `dqhw build MODEL.onnx` and the RTL, held to qonnx on the original file.

For each of bnn_pynq TFC, SFC, LFC, CNV at W1A1, W1A2, W2A2 (dqhw.refnets: random init, calibrated BN):
export QONNX -> `dqhw build --input-scale 1/255 --frames` (100 frames) -> the RTL (Verilator) on the
frames -> every logit compared with qonnx execute_onnx of the exported file (up to the output scale
and bias) and every class (except at exact integer ties). Prints one table row per network.

    python bench/bench_refnets.py [--frames 100] [--only tfc_1w1a cnv_2w2a ...] [--out DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def run_one(name: str, n_frames: int, root: Path, reuse: bool = False) -> dict:
    from dqhw.flow.pipeline import BuildOptions, build
    from dqhw.refnets import INPUT_SCALE, export, frames
    from dqhw.verification import rtl_vs_original

    row: dict = {"network": name}
    t0 = time.time()
    try:
        model = export(name, root / f"{name}.onnx")
    except Exception as e:  # noqa: BLE001  (a table row, not a crash)
        row.update(status="build failed", error="export: " + " ".join(str(e).split())[:200])
        return row
    x, y = frames(name, n_frames)
    fpath = root / f"{name}-frames.npz"
    np.savez(fpath, images=x, labels=y)
    t1 = time.time()
    out = root / f"b_{name}"
    if not (reuse and (out / "build.json").is_file()):
        try:
            out = build(BuildOptions(model=str(model), out=str(out), frames=str(fpath), input_scale=INPUT_SCALE))
        except Exception as e:  # noqa: BLE001  (a table row, not a crash)
            row.update(status="build failed", error=" ".join(str(e).split())[:200])
            return row
    s = json.loads((out / "report" / "summary.json").read_text())
    info = json.loads((out / "build.json").read_text())
    row["build_s"] = info["seconds"]
    row.update(cycles_per_frame=info["rtl"]["cycles_per_frame_measured"], lut_est=s["resources"]["estimated"]["LUT"],
               bram18_est=s["resources"]["estimated"]["BRAM18"], dsp_est=s["resources"]["estimated"]["DSP"],
               proof_mismatches=info["rtl"]["proof"]["mismatches"], fits=s["resources"]["fits"],
               lut_pct=s["resources"]["utilization_percent"]["LUT"],
               bram_pct=s["resources"]["utilization_percent"]["BRAM18"],
               refolds=sum(1 for st in info["steps"] if "refold" in st))
    t2 = time.time()
    r = rtl_vs_original(out, x, root / f"w_{name}")
    row.update(frames=r["frames"], logit_mismatch_frames=r["logit_mismatch_frames"],
               class_disagreements=r["class_disagreements"], at_ties=r["class_disagreements_at_ties"],
               rtl_s=round(time.time() - t2, 1), export_s=round(t1 - t0, 1),
               status="pass" if r["passed"] else "FAIL")
    return row


def main(argv=None) -> int:
    from dqhw.refnets import NAMES

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--only", nargs="*", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--reuse", action="store_true", help="report OUT/b_<name> builds that exist instead of rebuilding")
    args = p.parse_args(argv)
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="dqhw-refnets-"))
    names = args.only or list(NAMES)
    rows = []
    print("| network | status | frames | RTL vs qonnx: logit-mismatch frames / class disagreements (at ties) | "
          "proof mismatches | cycles/frame | FPS @100 MHz | LUT est (%) | BRAM18 est (%) | DSP | fits | refolds | "
          "build s | RTL+qonnx s |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for name in names:
        r = run_one(name, args.frames, root, args.reuse)
        rows.append(r)
        if r.get("status") == "build failed":
            print(f"| {name} | build failed: {r['error']} | | | | | | | | | | | | |", flush=True)
            continue
        print(f"| {name} | {r['status']} | {r['frames']} | {r['logit_mismatch_frames']} / {r['class_disagreements']} "
              f"({r['at_ties']}) | {r['proof_mismatches']} | {r['cycles_per_frame']:,} | "
              f"{1e8 / r['cycles_per_frame']:,.0f} | {r['lut_est']:,} ({r['lut_pct']}) | {r['bram18_est']} "
              f"({r['bram_pct']}) | {r['dsp_est']} | {r['fits']} | {r['refolds']} | {r['build_s']} | {r['rtl_s']} |",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r.get("status") == "pass" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
