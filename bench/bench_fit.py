"""Full-width CNV W2A2 on the PYNQ-Z2: dqhw's default build (the fastest design that fits) and a build
at FINN's own folding, side by side with FINN's published CNV-W2A2.

    python bench/bench_fit.py [--out DIR] [--frames 32] [--synth] [--skip-finn-folding]
                              [--default-build DIR] [--finn-build DIR]

Prints, for each build: measured cycles/frame (Verilator, FIFO sizing) and FPS at 100 MHz, the
estimated LUT/BRAM18/DSP (dqhw.estimate + finn's estimators) and, when the build has
report/synth.json (`dqhw build --synth`), the synthesized figures; FPS per kLUT and per BRAM36.
At FINN's folding it also compares dqhw's compute layers with finn's own estimate for its HLS MVAUs
of the same graph (report/estimate_layer_resources.json).

Goals (issue 10): the default build fits (synthesized) and runs at >= 1,736 FPS (2x FINN's 868) with 0
DSP; at FINN's folding dqhw's compute layers use no more LUT than finn's HLS estimate.
FINN's published CNV-W2A2 on the xc7z020: 868 FPS at 100 MHz, about 37k LUT, 140 BRAM36, 32 DSP
(BNN-PYNQ / finn-examples).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FINN_PUBLISHED = {"fps": 868.0, "lut": 37_000, "bram36": 140.0, "dsp": 32}
GOAL_FPS = 2 * FINN_PUBLISHED["fps"]

# finn-examples build/bnn-pynq/folding_config/cnv-w2a2_folding_config.json (facts: PE/SIMD per layer),
# in finn-plus 1.6.1 node names (its maxpools add depthwise window generators 2 and 5)
FINN_CNV_W2A2_FOLDING = {
    "Defaults": {},
    "Thresholding_rtl_0": {"PE": 1},
    "ConvolutionInputGenerator_rtl_0": {"SIMD": 3}, "MVAU_hls_0": {"PE": 8, "SIMD": 3},
    "ConvolutionInputGenerator_rtl_1": {"SIMD": 16}, "MVAU_hls_1": {"PE": 16, "SIMD": 16},
    "ConvolutionInputGenerator_rtl_3": {"SIMD": 16}, "MVAU_hls_2": {"PE": 8, "SIMD": 16},
    "ConvolutionInputGenerator_rtl_4": {"SIMD": 16}, "MVAU_hls_3": {"PE": 8, "SIMD": 16, "ram_style": "block"},
    "ConvolutionInputGenerator_rtl_6": {"SIMD": 8}, "MVAU_hls_4": {"PE": 4, "SIMD": 8},
    "ConvolutionInputGenerator_rtl_7": {"SIMD": 8}, "MVAU_hls_5": {"PE": 1, "SIMD": 8},
    "MVAU_hls_6": {"PE": 1, "SIMD": 2, "ram_style": "distributed"},
    "MVAU_hls_7": {"PE": 2, "SIMD": 2, "ram_style": "block"},
    "MVAU_hls_8": {"PE": 5, "SIMD": 1, "ram_style": "distributed"},
    "LabelSelect_hls_0": {"PE": 1},
}


def _build(model: Path, frames: Path, out: Path, folding: Path | None, synth: bool) -> Path:
    from dqhw.flow.pipeline import BuildOptions, build
    from dqhw.refnets import INPUT_SCALE

    kw = {"synth": True} if synth else {}
    return build(BuildOptions(model=str(model), out=str(out), frames=str(frames), input_scale=INPUT_SCALE,
                              folding=str(folding) if folding else None, verify_frames=16, exec_frames=1,
                              allow_overfull=folding is not None, **kw),
                 progress=lambda m: print("   ", m, flush=True))


def summarize(build_dir: Path) -> dict:
    info = json.loads((build_dir / "build.json").read_text())
    s = json.loads((build_dir / "report" / "summary.json").read_text())
    cycles = info["rtl"]["cycles_per_frame_measured"]
    fps = 1e9 / info["clock_ns"] / cycles
    est = s["resources"]["estimated"]
    row = {"build": str(build_dir), "folding": info["folding_source"], "cycles": cycles, "fps": round(fps, 1),
           "lut_est": est["LUT"], "bram18_est": est["BRAM18"], "dsp_est": est["DSP"],
           "fits_est": s["resources"]["fits"]}
    synth_path = build_dir / "report" / "synth.json"
    if synth_path.is_file():
        syn = json.loads(synth_path.read_text())
        tot = syn.get("total") or syn.get("totals") or {}
        row.update(lut_syn=tot.get("lut") or tot.get("LUT"), bram18_syn=tot.get("bram18") or tot.get("BRAM18"),
                   dsp_syn=tot.get("dsp") or tot.get("DSP"))
    # compute layers: dqhw's estimate vs finn's HLS estimate of the same folded graph
    finn_est_path = build_dir / "report" / "estimate_layer_resources.json"
    if finn_est_path.is_file():
        finn_est = json.loads(finn_est_path.read_text())
        finn_mvau = sum(v.get("LUT", 0) for k, v in finn_est.items() if k.startswith("MVAU"))
        ours = sum(r["resources"]["LUT"] or 0 for r in s["layers"] if r["type"] == "DqhwMVAU")
        row.update(mvau_lut_dqhw=ours, mvau_lut_finn_hls=int(finn_mvau))
        if synth_path.is_file():  # the same layers synthesized (Yosys), the figure the goal is about
            stages = json.loads(synth_path.read_text()).get("stages", [])
            mv = [st for st in stages if st.get("op_type") == "DqhwMVAU"]
            if mv and all(st.get("status") == "ok" for st in mv):
                row["mvau_lut_dqhw_synth"] = sum(st["LUT"] for st in mv)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--synth", action="store_true", help="build with --synth (Yosys) as well")
    p.add_argument("--skip-finn-folding", action="store_true")
    p.add_argument("--default-build", default=None, help="an existing default build of CNV W2A2 to report")
    p.add_argument("--finn-build", default=None, help="an existing build at FINN's folding to report")
    args = p.parse_args(argv)
    import numpy as np

    from dqhw.refnets import export, frames

    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="dqhw-fit-"))
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    need_model = not args.default_build or (not args.skip_finn_folding and not args.finn_build)
    if need_model:
        model = export("cnv_2w2a", root / "cnv_2w2a.onnx")
        x, y = frames("cnv_2w2a", args.frames)
        fpath = root / "frames.npz"
        np.savez(fpath, images=x, labels=y)
    t0 = time.time()
    default = Path(args.default_build) if args.default_build else _build(model, fpath, root / "b_default", None,
                                                                          args.synth)
    rows.append(summarize(default) | {"what": "dqhw default (fastest that fits)", "seconds": round(time.time() - t0)})
    if not args.skip_finn_folding:
        t0 = time.time()
        if args.finn_build:
            fb = Path(args.finn_build)
        else:
            fold = root / "finn_cnv_w2a2_folding.json"
            fold.write_text(json.dumps(FINN_CNV_W2A2_FOLDING, indent=2) + "\n")
            fb = _build(model, fpath, root / "b_finn_folding", fold, args.synth)
        rows.append(summarize(fb) | {"what": "dqhw at FINN's folding", "seconds": round(time.time() - t0)})

    print("\n| build | cycles/frame | FPS @100 MHz | LUT est | LUT synth | BRAM36 est | DSP | FPS/kLUT | FPS/BRAM36 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        lut = r.get("lut_syn") or r["lut_est"]
        b36 = r["bram18_est"] / 2
        print(f"| {r['what']} | {r['cycles']:,} | {r['fps']:,.0f} | {r['lut_est']:,} | {r.get('lut_syn') or '-'} | "
              f"{b36:g} | {r['dsp_est']} | {r['fps'] / (lut / 1000):.1f} | {r['fps'] / max(b36, 0.5):.1f} |")
    f = FINN_PUBLISHED
    print(f"| FINN CNV-W2A2 (published) | 115,200 | {f['fps']:,.0f} | ~{f['lut']:,} | | {f['bram36']:g} | {f['dsp']} | "
          f"{f['fps'] / (f['lut'] / 1000):.1f} | {f['fps'] / f['bram36']:.1f} |")
    d = rows[0]
    print(f"\ndefault: {d['fps']:,.0f} FPS = {d['fps'] / GOAL_FPS:.2f}x the goal ({GOAL_FPS:,.0f}), "
          f"{d['fps'] / f['fps']:.2f}x FINN's; fits (estimate): {d['fits_est']}; DSP {d['dsp_est']}")
    if len(rows) > 1 and "mvau_lut_dqhw" in rows[1]:
        r = rows[1]
        hls = max(r["mvau_lut_finn_hls"], 1)
        print(f"at FINN's folding: dqhw compute layers {r['mvau_lut_dqhw']:,} LUT (estimate) vs finn's HLS estimate "
              f"{r['mvau_lut_finn_hls']:,} LUT: ratio {r['mvau_lut_dqhw'] / hls:.2f}")
        if "mvau_lut_dqhw_synth" in r:
            print(f"at FINN's folding: dqhw compute layers synthesized (Yosys) {r['mvau_lut_dqhw_synth']:,} LUT: "
                  f"ratio {r['mvau_lut_dqhw_synth'] / hls:.2f} to finn's HLS estimate (goal <= 1.00)")
    (root / "bench_fit.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\n(rows in {root / 'bench_fit.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
