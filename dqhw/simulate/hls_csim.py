"""C-simulation of a build's HLS accelerator (BUILD/hls, dqhw.hlsgen) with g++: compile once per build
(the executable and its objects are cached under BUILD/sim/hls-csim/, keyed by a hash of the sources, the
headers they include, the compiler and the flags),
then run every frame of a set through it in one process (frames in and outputs out as binary files).

The headers ap_int.h / hls_stream.h come from the hls4ml wheel (hls4ml/templates/vivado/ap_types),
found through importlib; a missing g++ or hls4ml is one DqhwError saying what to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqhw import contract
from dqhw.errors import DqhwError

AP_TYPES = Path("templates") / "vivado" / "ap_types"
CXXFLAGS = ["-O2", "-Wno-unknown-pragmas"]  # g++ does not know `#pragma HLS`; every other warning stays on
EXE = "dqhw_csim"


def find_toolchain() -> tuple[str, list[Path]]:
    """(g++ path, include folders holding ap_int.h and hls_stream.h)."""
    gxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")
    if gxx is None:
        raise DqhwError("HLS C-simulation needs g++ (e.g. apt-get install g++)")
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise DqhwError("HLS C-simulation needs the ap_int.h/hls_stream.h headers of hls4ml: "
                        "pip install --no-deps hls4ml==1.1.0 (requirements/finn.txt)")
    for base in spec.submodule_search_locations:
        inc = Path(base) / AP_TYPES
        if (inc / "ap_int.h").is_file() and (inc / "hls_stream.h").is_file():
            return gxx, [inc]
    raise DqhwError("the installed hls4ml has no templates/vivado/ap_types/ap_int.h; "
                    "pip install --no-deps hls4ml==1.1.0 (requirements/finn.txt)")


def _compiler_version(gxx: str) -> str:
    return subprocess.run([gxx, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def load_description(hls_dir: str | Path) -> dict:
    from dqhw.hlsgen.generate import DESCRIPTION

    path = Path(hls_dir) / DESCRIPTION
    if not path.is_file():
        raise DqhwError(f"{hls_dir}: no {DESCRIPTION} (build with a dqhw that writes BUILD/hls, or run "
                        "`python -m dqhw.hlsgen BUILD`)")
    return json.loads(path.read_text())


def compile_csim(hls_dir: str | Path, cache_root: str | Path, jobs: int | None = None) -> tuple[Path, float]:
    """The C-simulation executable of `hls_dir`, compiled unless the cache holds one for exactly these
    sources; returns (path, seconds spent compiling: 0 on a cache hit). Objects are cached too, each keyed
    by its source and what it includes: the memories (params/*.cpp, most of the compile time of a large
    network) are not compiled again when only the layers or the top change."""
    gxx, includes = find_toolchain()
    hls_dir = Path(hls_dir).resolve()
    info = load_description(hls_dir)
    flags = [*CXXFLAGS, f"-std={info['cxx_std']}", f"-I{hls_dir}", *[f"-isystem{p}" for p in includes]]
    base = hashlib.sha256(_compiler_version(gxx).encode() + " ".join(CXXFLAGS + [info["cxx_std"]]).encode())
    for inc in includes:
        for f in sorted(inc.rglob("*.h")):
            base.update(f.name.encode() + f.read_bytes())
    local = [f"{info['top']}.h", "dqhw_accel_params.h", *info["headers"]]
    sources = list(info["sources"]) + [info["testbench"]]

    def key(src: str) -> str:
        h = base.copy()
        # params/*.cpp include only the memory declarations; the top and the driver every local header
        deps = ["dqhw_accel_params.h"] if src.startswith("params/") else local
        for name in [src, *deps]:
            h.update(name.encode() + b"\0" + (hls_dir / name).read_bytes() + b"\0")
        return h.hexdigest()[:20]

    keys = {src: key(src) for src in sources}
    root = Path(cache_root).resolve()
    exe = root / hashlib.sha256("".join(sorted(keys.values())).encode()).hexdigest()[:16] / EXE
    if exe.is_file():
        return exe, 0.0
    t0 = time.time()
    (root / "objects").mkdir(parents=True, exist_ok=True)

    def compile_one(src: str):
        obj = root / "objects" / f"{keys[src]}.o"
        if obj.is_file():
            return None
        tmp = obj.with_name(f".{obj.name}.{os.getpid()}.tmp")
        r = subprocess.run([gxx, *flags, "-c", str(hls_dir / src), "-o", str(tmp)], capture_output=True, text=True)
        if r.returncode != 0:
            tmp.unlink(missing_ok=True)
            first = next((ln for ln in r.stderr.splitlines() if "error" in ln), r.stderr.strip()[:300])
            return f"g++ failed on {hls_dir / src}: {first.strip()}"
        os.replace(tmp, obj)
        return None

    # the largest sources first, so the long compiles overlap
    order = sorted(sources, key=lambda f: -(hls_dir / f).stat().st_size)
    with ThreadPoolExecutor(max(1, min(len(sources), jobs or os.cpu_count() or 1))) as pool:
        errors = [e for e in pool.map(compile_one, order) if e]
    if errors:
        raise DqhwError(errors[0])
    exe.parent.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f".{EXE}.{os.getpid()}.tmp")
    r = subprocess.run([gxx, *[str(root / "objects" / f"{keys[s]}.o") for s in sources], "-o", str(tmp)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise DqhwError(f"linking the C-simulation failed: {r.stderr.strip()[:300]}")
    os.replace(tmp, exe)
    return exe, time.time() - t0


@dataclass
class CsimResult:
    labels: np.ndarray  # (N,) the class on m_axis (empty without LabelSelect: the host takes it)
    logits: np.ndarray  # (N, classes) int64
    wall_s: float  # the C-simulation process alone (frames through the model)


def input_bytes(info: dict, images: np.ndarray) -> bytes:
    """uint8 NHWC frames -> s_axis beats, little-endian, in_width/8 bytes each (contract.pack_beats)."""
    from dqhw.frames import as_stream_shape

    shape = tuple(info["in_shape"])
    x = as_stream_shape(np.asarray(images), shape)
    if x is None:
        raise DqhwError(f"HLS C-sim: frames of shape {tuple(np.shape(images)[1:])}, the accelerator takes {shape}")
    bits, per_beat, width = info["in_elem_bits"], info["in_elems_per_beat"], info["in_width"]
    flat = np.ascontiguousarray(x, dtype=np.uint8).reshape(-1)
    if bits == 8 and width == 8 * per_beat:  # whole-byte pixels: the beats are the pixel bytes themselves
        return flat.tobytes()
    nbytes = width // 8
    return b"".join(int(w).to_bytes(nbytes, "little") for w in contract.pack_beats(flat, bits, per_beat))


def parse_output(info: dict, data: bytes, frames: int) -> tuple[np.ndarray, np.ndarray]:
    lw, cw = info["logits_width"] // 8, info["class_width"] // 8
    nb = info["logits_beats_per_frame"]
    per_frame = nb * lw + cw
    if len(data) != frames * per_frame:
        raise DqhwError(f"HLS C-sim wrote {len(data)} bytes for {frames} frames, expected {frames * per_frame}")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(frames, per_frame)
    beats = [int.from_bytes(rows[f, b * lw:(b + 1) * lw].tobytes(), "little") for f in range(frames) for b in range(nb)]
    logits = contract.unpack_beats(beats, info["logits_elem_bits"], info["logits_per_beat"], signed=True)
    logits = logits.reshape(frames, -1)[:, :info["num_classes"]]
    labels = np.zeros(0, dtype=np.int64)
    if cw:
        labels = np.array([int.from_bytes(rows[f, nb * lw:].tobytes(), "little") for f in range(frames)],
                          dtype=np.int64)
    return labels, logits


def run_csim(exe: str | Path, hls_dir: str | Path, images: np.ndarray, work: str | Path) -> CsimResult:
    """Every frame through the compiled model in one process; anything hls::stream reports (a read of an
    empty stream, data left in a stream) or a wrong number of beats is a DqhwError."""
    info = load_description(hls_dir)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    fin, fout = work / "frames.bin", work / "outputs.bin"
    fin.write_bytes(input_bytes(info, images))
    fout.unlink(missing_ok=True)
    t0 = time.time()
    r = subprocess.run([str(exe), str(fin), str(fout)], capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode != 0 or r.stdout.strip():
        msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
        raise DqhwError(f"HLS C-sim failed (exit {r.returncode}): {msg[0] if msg else 'no message'}")
    labels, logits = parse_output(info, fout.read_bytes(), len(images))
    return CsimResult(labels, logits, wall)
