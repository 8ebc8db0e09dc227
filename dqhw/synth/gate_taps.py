"""Which stage of a gate-level netlist first differs: one frame through the netlist again, with every
inter-stage stream s{i} of dqhw_accel recorded (dqhw.simulate.streams' dump testbench, hierarchical
references into the DUT), each stream compared with the golden model's tensor of the node that
produces it. The flattened netlist keeps dqhw_accel's stream wires under their names where Yosys
kept them; a stream whose valid, ready or data wire is gone is not recorded ("where the hierarchy
allows"), and the report says how many were.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError
from dqhw.resources import hw_dir
from dqhw.rtlgen.generate import Design
from dqhw.simulate import streams as st
from dqhw.simulate import testbench as tb


def _visible(netlist_text: str, i: int) -> bool:
    """s{i}'s valid, ready and data wires are in the netlist and none is a constant: Yosys keeps a
    `keep` wire it found no driver for as `assign s{i}_tdata = 8'h00;` while the consumer reads the
    value from elsewhere (seen on a FIFO feeding finn's Thresholding_rtl), which would read as a
    difference."""
    if re.search(rf"^\s*assign s{i}_t(valid|ready|data) = \d+'[bhd][0-9a-fA-F_]+;", netlist_text, re.M):
        return False
    return all(re.search(rf"\bs{i}_{p}\b", netlist_text) for p in ("tvalid", "tready", "tdata"))


def dump_verilog(design: Design, netlist_text: str) -> tuple[str, list[int]]:
    """The streams dump testbench with the lines of streams the netlist lost removed; (text, kept)."""
    text = st.dump_testbench_verilog(design)
    kept, lines = [], []
    for line in text.splitlines():
        m = re.search(r"tb\.dut\.s(\d+)_tvalid", line)
        if m and not _visible(netlist_text, int(m.group(1))):
            continue
        if m:
            kept.append(int(m.group(1)))
        lines.append(line)
    return "\n".join(lines) + "\n", kept


def dump_gate_streams(gate_dir: Path, design: Design, work: Path, image: np.ndarray, netlist: str
                      ) -> tuple[dict[int, list[int]], list[int]]:
    """One frame through the netlist in gate_dir; ({stream: beats}, the streams recorded)."""
    from dqhw.simulate.verilator import run_cocotb

    gate = Design.load(gate_dir)
    work.mkdir(parents=True, exist_ok=True)
    tb_file = gate_dir / "tb_dqhw_accel.v"
    tb_file.write_text(tb.testbench_verilog(gate))
    text, kept = dump_verilog(design, (gate_dir / netlist).read_text())
    dump_file = work / "tb_dqhw_accel_streams.v"
    dump_file.write_text(text)
    run_dir, _ = tb.prepare_bulk_run(gate_dir, work, gate, np.asarray(image)[None])
    res = run_cocotb(sources=[gate_dir / f for f in gate.files] + [tb_file, dump_file], toplevel=st.DUMP_TOP,
                     test_module="test_accel_bulk", build_dir=work / "build", test_dir=run_dir,
                     parameters={"WATCHDOG": st.WATCHDOG_CYCLES, "STALL_IN": 0, "STALL_OUT": 0},
                     python_path=[hw_dir("sim")], build_args=["--no-public-flat-rw", "-O3"],
                     extra_env={"DQHW_SIM_TIMING": str(run_dir / "timing.json")})
    out = run_dir / "streams.out"
    if not res.passed or not out.is_file():
        raise DqhwError(f"netlist stream dump failed: {res.message} (see {res.log})")
    beats: dict[int, list[int]] = {i: [] for i in kept}
    for line in out.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            beats[int(parts[0])].append(int(parts[1], 16))
    return beats, kept


def first_differing_stage(build_dir: Path, work: Path, images: np.ndarray, netlist: str = "dqhw_accel_gate.v"
                          ) -> dict:
    """The first stage (stream order) whose recorded output differs from the golden model on the
    first of `images`: {"stage", "op_type", "stream", "beat", "netlist", "golden", "streams_recorded",
    "streams", "detail"}; {"stage": None, "detail": why} when none differs or recording failed."""
    from dqhw.golden import GoldenModel

    build_dir, work = Path(build_dir), Path(work)
    design = Design.load(build_dir / "rtl")
    image = np.asarray(images)[0]
    try:
        golden = GoldenModel.from_build(build_dir).run(image[None], keep_intermediates=True)
        specs = st.stream_specs(build_dir, design)
        beats, kept = dump_gate_streams(work / "gate", design, work / "taps", image, netlist)
    except DqhwError as e:
        return {"stage": None, "detail": f"stream recording failed: {str(e)[:300]}"}
    total = st.stream_count(design)
    rows = st.compare_streams([s for s in specs if s.index in kept], beats, golden.tensors)
    (work / "taps" / "streams.json").write_text(json.dumps(rows, indent=1, default=int))
    for row in rows:
        if not row["ok"]:
            return {"stage": row["stage"], "op_type": row["op_type"], "stream": row["stream"], "beat": row["beat"],
                    "netlist": row["rtl"], "golden": row["golden"], "streams_recorded": len(kept), "streams": total,
                    "detail": f"stream s{row['stream']} beat {row['beat']}: netlist {row['rtl']}, golden "
                              f"{row['golden']}; {len(kept)} of {total} streams visible in the netlist"}
    return {"stage": None, "detail": f"the {len(kept)} of {total} streams visible in the netlist all match on frame 0"}
