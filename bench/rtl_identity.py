"""What a refactoring of the build must not change: the generated RTL and the dataflow graph.

Builds the digits demo build (`dqhw train --bits 2` as `make demo` does, then `dqhw build RUN --board
pynq-z2`) and FINN's TFC W1A1 (dqhw.refnets, `--input-scale 1/255 --frames`) with the `dqhw` of the
Python path, and writes a manifest: the sha256 of every file under each build's rtl/ and a canonical
dump of its dataflow.onnx (nodes with their attributes, initializer hashes, data type annotations).
Wall times go under "timing" (not compared).

    python bench/rtl_identity.py --work DIR --out MANIFEST.json          build both, write the manifest
    python bench/rtl_identity.py --compare A.json B.json                 exit 0 when identical

The digits run is trained once into DIR/digits-run and reused (training is not what is compared).
Two things differ between any two runs of the same tree, and are normalised:
- finn's InsertFIFO/InsertDWC name the tensors they insert with Python's unseeded `random` (qonnx
  random_string, 6 letters/digits): the graph dump numbers those names in order of appearance, and
  the graph's own sha256 (the first 16 hex digits, in rtl/design.json and dqhw_accel.v's header) is
  replaced by a placeholder after checking that it is the sha256 of the build's dataflow.onnx
  ("rtl_from_final_graph": the RTL was generated from exactly the graph the build wrote);
- rtl/fifo_sizing.json records compile times: compared with its "compile_s*" fields removed, and
  rtl/manifest.json (which hashes design.json and fifo_sizing.json) is left out (its other entries
  are the files compared here).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RANDOM_NAME = re.compile(r"[A-Za-z0-9]{6}")


def _dqhw(*args: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dqhw", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"dqhw {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
    return round(time.perf_counter() - t0, 2)


def _untimed(obj):
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if not k.startswith("compile_s")}
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def rtl_hashes(rtl: Path, graph_sha: str) -> dict[str, str]:
    out = {}
    for f in sorted(p for p in rtl.rglob("*") if p.is_file()):
        rel = str(f.relative_to(rtl))
        if f.name == "manifest.json":
            continue  # hashes fifo_sizing.json (compile times); the files it hashes are compared here
        data = f.read_bytes().replace(graph_sha.encode(), b"<graph sha>")
        if f.name == "fifo_sizing.json":
            data = json.dumps(_untimed(json.loads(data)), sort_keys=True).encode()
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


def graph_dump(path: Path) -> dict:
    """The graph as plain data: every node (op, domain, name, inputs, outputs, attributes), every
    initializer's shape, dtype and sha256, the data type annotations and the graph's inputs/outputs."""
    import onnx
    from onnx import helper, numpy_helper

    g = onnx.load(str(path)).graph
    inits = {t.name for t in g.initializer}
    random_names: dict[str, str] = {}

    def name(t: str) -> str:  # finn's random tensor names, numbered in order of appearance
        if t in inits or t == "logits" or not RANDOM_NAME.fullmatch(t):
            return t
        return random_names.setdefault(t, f"<t{len(random_names)}>")

    def attr(a):
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            return v.decode(errors="replace")
        if isinstance(v, onnx.TensorProto):
            return hashlib.sha256(numpy_helper.to_array(v).tobytes()).hexdigest()
        return list(v) if isinstance(v, list | tuple) else v

    nodes = [{"op": n.op_type, "domain": n.domain, "name": n.name, "in": [name(t) for t in n.input],
              "out": [name(t) for t in n.output],
              "attrs": {a.name: attr(a) for a in sorted(n.attribute, key=lambda a: a.name)}} for n in g.node]
    init_data = {}
    for t in g.initializer:
        a = numpy_helper.to_array(t)
        init_data[t.name] = {"shape": list(a.shape), "dtype": str(a.dtype),
                         "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()}
    annos = {name(qa.tensor_name): {kv.key: kv.value for kv in qa.quant_parameter_tensor_names}
             for qa in g.quantization_annotation}
    return {"inputs": [name(i.name) for i in g.input], "outputs": [name(o.name) for o in g.output], "nodes": nodes,
            "initializers": dict(sorted(init_data.items())), "annotations": dict(sorted(annos.items()))}


def describe(build: Path) -> dict:
    dump = graph_dump(build / "dataflow.onnx")
    info = json.loads((build / "build.json").read_text())
    graph_sha = json.loads((build / "rtl" / "design.json").read_text())["graph_sha"]
    own = hashlib.sha256((build / "dataflow.onnx").read_bytes()).hexdigest()[:16]
    return {"rtl": rtl_hashes(build / "rtl", graph_sha), "rtl_from_final_graph": graph_sha == own,
            "graph_sha256": hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest(),
            "graph_nodes": len(dump["nodes"]), "steps": [s["step"] for s in info["steps"]],
            "step_seconds": {s["step"]: s["seconds"] for s in info["steps"]}}


def build_digits(work: Path) -> tuple[Path, float]:
    run = work / "digits-run"
    if not (run / "model.pt").exists() and not (run / "config.json").exists():
        print("[identity] training the digits demo run (once)", flush=True)
        _dqhw("train", "--bits", "2", "--out", str(run), "--quiet")
    out = work / "b_digits"
    print("[identity] dqhw build digits (the demo's build)", flush=True)
    return out, _dqhw("build", str(run), "--board", "pynq-z2", "--out", str(out), "--quiet")


def build_tfc(work: Path) -> tuple[Path, float]:
    from dqhw.refnets import INPUT_SCALE, export, frames

    model, fpath = work / "tfc_1w1a.onnx", work / "tfc_1w1a-frames.npz"
    if not model.exists():
        print("[identity] exporting tfc_1w1a (seed 0)", flush=True)
        export("tfc_1w1a", model)
        x, y = frames("tfc_1w1a", 100)
        np.savez(fpath, images=x, labels=y)
    out = work / "b_tfc_1w1a"
    print("[identity] dqhw build tfc_1w1a", flush=True)
    return out, _dqhw("build", str(model), "--board", "pynq-z2", "--out", str(out), "--frames", str(fpath),
                      "--input-scale", repr(INPUT_SCALE), "--quiet")


BUILDS = {"digits": build_digits, "tfc_1w1a": build_tfc}


def make_manifest(work: Path, only: list[str] | None = None, reuse: bool = False) -> dict:
    """`reuse`: describe builds already in `work` instead of building (merging partial runs)."""
    work.mkdir(parents=True, exist_ok=True)
    manifest = {"identity": {}, "timing": {}}
    for name, fn in BUILDS.items():
        if only and name not in only:
            continue
        if reuse and (work / f"b_{name}" / "build.json").is_file():
            out, wall = work / f"b_{name}", None
        else:
            out, wall = fn(work)
        d = describe(out)
        manifest["timing"][name] = {"wall_s": wall, "steps_s": d.pop("step_seconds")}
        manifest["identity"][name] = d
        print(f"[identity] {name}: {len(d['rtl'])} rtl files, graph {d['graph_sha256'][:12]}, {wall} s", flush=True)
    return manifest


def compare(a: dict, b: dict) -> list[str]:
    diffs = []
    for name in sorted(set(a["identity"]) | set(b["identity"])):
        x, y = a["identity"].get(name), b["identity"].get(name)
        if x is None or y is None:
            diffs.append(f"{name}: only in one manifest")
            continue
        for f in sorted(set(x["rtl"]) | set(y["rtl"])):
            if x["rtl"].get(f) != y["rtl"].get(f):
                diffs.append(f"{name}: rtl/{f} differs")
        if x["graph_sha256"] != y["graph_sha256"]:
            diffs.append(f"{name}: dataflow graph differs")
        for m, d in (("A", x), ("B", y)):
            if not d["rtl_from_final_graph"]:
                diffs.append(f"{name}: in {m}, rtl/ was not generated from the dataflow.onnx the build wrote")
    return diffs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, help="build folder (the digits run is kept there)")
    p.add_argument("--out", type=Path, help="manifest file to write")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    p.add_argument("--only", nargs="+", choices=sorted(BUILDS), help="build only these")
    p.add_argument("--reuse", action="store_true", help="describe the builds already in --work")
    args = p.parse_args(argv)
    if args.compare:
        a, b = (json.loads(f.read_text()) for f in args.compare)
        diffs = compare(a, b)
        for d in diffs:
            print(d)
        n = sum(len(v["rtl"]) for v in a["identity"].values())
        print("identical" if not diffs else f"{len(diffs)} differences", f"({n} rtl files, "
              f"{len(a['identity'])} graphs)")
        return 1 if diffs else 0
    if not args.work or not args.out:
        p.error("--work and --out are needed to build")
    manifest = make_manifest(args.work, args.only, args.reuse)
    tmp = args.out.with_suffix(".tmp")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    tmp.rename(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
