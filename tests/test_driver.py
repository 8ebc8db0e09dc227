"""The board package, exercised without a board or Vivado.

- The generated PYNQ driver (BUILD/board/driver.py), copied unmodified, runs in a subprocess whose
  `pynq` is the simulated one (dqhw.board.pynq_sim: the AXI DMAs of the block design in front of
  the accelerator's Verilator model); its classes and logits must equal the golden model's, frame by
  frame. Two builds: a 3-channel input (24-bit stream, 32-bit DMA: a subset converter drops the pad
  byte) with 6-bit logits five to a 32-bit beat and the class on the accelerator; and a per-class
  scale/bias on the last layer (class on the host) with 40-bit logits beats (64-bit DMA, zero-filled).
- The simulated pynq keeps the AXI DMA's rules (a receive transfer ends at TLAST, backpressure, the
  buffer full before TLAST, alignment, one transfer per channel until waited for): the driver of the
  previous template (one receive transfer for a whole batch) returns stale memory and then hangs.
- The Vivado script: a dry run in plain Tcl with Vivado's commands stubbed (dqhw.board.vivado_dry_run)
  adds every source and memory file, checks the slack of the routed design and refuses to write a
  bitstream on negative setup or hold slack, writes its reports next to dqhw's report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

INPUT_SCALE = 1.0 / 255.0
N_FRAMES = 48  # >= 32 through the driver


# --------------------------------------------------------------------------------------------------
# two small QONNX nets (Brevitas, exported), built with a folding file each
# --------------------------------------------------------------------------------------------------
def _net(in_ch: int, w_bits: int, per_class_last: bool):
    """8-bit learned-scale input quantizer, conv 3x3 -> BN -> 2-bit ReLU -> max pool, conv 3x3 to five
    channels -> BN -> 2-bit ReLU, linear to 10 classes (per-tensor scale: class on the accelerator;
    per-channel scale + bias: class on the host)."""
    import torch
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    last_quant = Int8WeightPerChannelFloat if per_class_last else Int8WeightPerTensorFloat

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.q0 = QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=8, return_quant_tensor=False)
            self.c1 = QuantConv2d(in_ch, 6, 3, padding=1, bias=False, weight_quant=Int8WeightPerChannelFloat,
                                  weight_bit_width=w_bits)
            self.b1, self.r1 = nn.BatchNorm2d(6), QuantReLU(bit_width=2)
            self.pool = nn.MaxPool2d(2)
            self.c2 = QuantConv2d(6, 5, 3, bias=False, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=2)
            self.b2, self.r2 = nn.BatchNorm2d(5), QuantReLU(bit_width=2)
            self.fc = QuantLinear(20, 10, bias=per_class_last, weight_quant=last_quant, weight_bit_width=w_bits)

        def forward(self, x):
            x = self.pool(self.r1(self.b1(self.c1(self.q0(x)))))
            return self.fc(self.r2(self.b2(self.c2(x))).flatten(1))

    torch.manual_seed(0)
    return Net()


def _frames(n: int, in_ch: int) -> tuple[np.ndarray, np.ndarray]:
    from dqhw.data import load_dataset

    d = load_dataset("digits")
    x, y = d.x_test[:n], d.y_test[:n]
    if in_ch == 3:
        x = np.concatenate([x, 255 - x, x // 2], axis=-1)
    return x, y


def _build(root: Path, in_ch: int, w_bits: int, per_class_last: bool, folding: dict) -> Path:
    import torch
    from brevitas.export import export_qonnx

    from dqhw.cli import main
    from tests.test_qonnx_build import calibrate

    net = _net(in_ch, w_bits, per_class_last)
    x, y = _frames(64, in_ch)
    calibrate(net, x)
    model = root / "net.onnx"
    export_qonnx(net, input_t=torch.zeros(1, in_ch, 8, 8), export_path=str(model), dynamo=False)
    frames, fold = root / "frames.npz", root / "folding.json"
    np.savez(frames, images=x, labels=y)
    fold.write_text(json.dumps({"Defaults": {}} | folding))
    out = root / "build"
    code = main(["build", str(model), "--input-scale", repr(INPUT_SCALE), "--frames", str(frames), "--folding",
                 str(fold), "--out", str(out), "--verify-frames", "16", "--exec-frames", "2", "--prove-frames", "16",
                 "--quiet"])
    assert code == 0, "dqhw build failed"
    return out


@pytest.fixture(scope="module")
def accel_build(tmp_path_factory) -> Path:
    """3-channel input (Thresholding PE 3: a 24-bit input stream), 2-bit weights, last layer PE 5
    (5 logits of 6 bits in a 32-bit beat), class on the accelerator (LabelSelect PE 5)."""
    return _build(tmp_path_factory.mktemp("drv-accel"), 3, 2, False, {
        "Thresholding_rtl_0": {"PE": 3}, "FMPadding_rtl_0": {"SIMD": 3}, "ConvolutionInputGenerator_rtl_0": {"SIMD": 3},
        "MVAU_hls_0": {"PE": 2, "SIMD": 9}, "ConvolutionInputGenerator_rtl_2": {"SIMD": 6},
        "MVAU_hls_1": {"PE": 5, "SIMD": 6}, "MVAU_hls_2": {"PE": 5, "SIMD": 4}, "LabelSelect_hls_0": {"PE": 5}})


@pytest.fixture(scope="module")
def host_build(tmp_path_factory) -> Path:
    """1-channel input, 3-bit weights, per-class scale and bias on the last layer (class on the host),
    last layer PE 5 (40-bit logits beats: a 64-bit DMA, zero-filled by a subset converter)."""
    return _build(tmp_path_factory.mktemp("drv-host"), 1, 3, True, {
        "MVAU_hls_0": {"PE": 2, "SIMD": 9}, "MVAU_hls_1": {"PE": 5, "SIMD": 6}, "MVAU_hls_2": {"PE": 5, "SIMD": 4}})


@pytest.fixture(scope="module")
def builds(request):
    return {"accel": request.getfixturevalue("accel_build"), "host": request.getfixturevalue("host_build")}


def _test_frames(build: Path, n: int = N_FRAMES) -> np.ndarray:
    """The build's own frames, then random pixels (every value 0..255 on every lane)."""
    from dqhw.rtlgen.generate import Design

    shape = tuple(Design.load(build / "rtl").in_shape)
    x = np.load(build.parent / "frames.npz")["images"][: n // 2]
    rnd = np.random.default_rng(7).integers(0, 256, size=(n - len(x), *shape), dtype=np.uint8)
    return np.concatenate([x, rnd])


def _run_driver(build: Path, tmp: Path, frames: np.ndarray, stall: int = 0) -> tuple[dict, list]:
    """BUILD/board/driver.py, copied unmodified next to a placeholder dqhw.bit, in a subprocess whose
    `pynq` is the simulated one. Returns (its --out file, the simulation's transfer log)."""
    from dqhw.board.pynq_sim import driver_env

    shutil.copy(build / "board" / "driver.py", tmp / "driver.py")
    (tmp / "dqhw.bit").write_bytes(b"")
    np.save(tmp / "frames.npy", frames)
    env = driver_env(build, build / "sim" / "pynq", stall=stall, log=tmp / "pynq_log.json")
    proc = subprocess.run([sys.executable, "driver.py", "frames.npy", "--logits", "--out", "result.npz"], cwd=tmp,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp / "driver.py").read_bytes() == (build / "board" / "driver.py").read_bytes()
    assert f"{len(frames)} frames in" in proc.stdout
    res = np.load(tmp / "result.npz")
    return {"classes": res["classes"], "logits": res["logits"]}, json.loads((tmp / "pynq_log.json").read_text())


# --------------------------------------------------------------------------------------------------
# the driver against the simulated PL
# --------------------------------------------------------------------------------------------------
@pytest.mark.rtl
@pytest.mark.parametrize("which, stall", [("accel", 0), ("host", 96)])
def test_generated_driver_equals_the_golden_model_on_the_simulated_board(builds, which, stall, tmp_path):
    from dqhw.golden import GoldenModel
    from dqhw.rtlgen.generate import Design

    build = builds[which]
    design = Design.load(build / "rtl")
    info = json.loads((build / "build.json").read_text())["outputs"]
    assert info["class_on"] == ("accelerator" if which == "accel" else "host")
    assert (design.label_width > 0) == (which == "accel")
    if which == "accel":  # the widths this build is for: a converter on the input, sign-extended pad bits
        assert design.in_width == 24 and design.logits_elem_bits * design.logits_per_beat % 8 != 0
    else:
        assert design.logits_width not in (8, 16, 32, 64, 128)
    frames = _test_frames(build)
    got, log = _run_driver(build, tmp_path, frames, stall=stall)
    want = GoldenModel.from_build(build).run(frames)
    bad = [i for i in range(len(frames)) if got["classes"][i] != want.labels[i]
           or not np.array_equal(got["logits"][i], want.logits[i])]
    assert not bad, (f"{len(bad)} frames differ, first {bad[0]}: driver class {got['classes'][bad[0]]} logits "
                     f"{got['logits'][bad[0]].tolist()}, golden {want.labels[bad[0]]} {want.logits[bad[0]].tolist()}")
    assert got["logits"].shape == (len(frames), design.num_classes)
    # the DMA traffic: one send transfer, one receive transfer per frame and output, each ended by TLAST
    # with exactly the bytes of one frame; nothing hung
    (sim,) = log
    assert sim["hangs"] == 0
    sends = [t for t in sim["transfers"] if t["channel"] == "mm2s"]
    assert len(sends) == 1 and sends[0]["beats"] == len(frames) * design.in_beats_per_frame
    for dma, n_bytes in [("dma1", design.logits_beats_per_frame * _pow2_bytes(design.logits_width))] + (
            [("dma0", _pow2_bytes(design.label_width))] if which == "accel" else []):
        recv = [t for t in sim["transfers"] if t["channel"] == "s2mm" and t["dma"] == dma]
        assert len(recv) == len(frames)
        assert all(t["end"] == "tlast" and t["bytes_written"] == t["nbytes"] == n_bytes for t in recv), recv[:2]


def _pow2_bytes(bits: int) -> int:
    w = 8
    while w < bits:
        w *= 2
    return w // 8


@pytest.mark.rtl
def test_driver_splits_batches_at_the_dma_length_limit(accel_build, tmp_path, monkeypatch):
    """The driver, imported as a module with the simulated pynq, a DMA length limit of three frames:
    several send transfers, same results."""
    from dqhw.board import pynq_sim
    from dqhw.golden import GoldenModel

    monkeypatch.setitem(sys.modules, "pynq", pynq_sim)
    monkeypatch.setenv(pynq_sim.ENV_BUILD, str(accel_build))
    monkeypatch.setenv(pynq_sim.ENV_WORK, str(accel_build / "sim" / "pynq"))
    ns: dict = {"__name__": "dqhw_driver"}
    exec(compile((accel_build / "board" / "driver.py").read_text(), "driver.py", "exec"), ns)  # noqa: S102
    ns["MAX_TRANSFER_BYTES"] = 3 * ns["FRAME_IN_BYTES"] + 1
    (tmp_path / "dqhw.bit").write_bytes(b"")
    acc = ns["Accelerator"](str(tmp_path / "dqhw.bit"))
    try:
        frames = _test_frames(accel_build, 8)
        classes, logits = acc.run(frames)
        sends = [t for t in acc.overlay._sim.transfers if t.channel == "mm2s"]
    finally:
        acc.overlay._sim.close()
    want = GoldenModel.from_build(accel_build).run(frames)
    assert np.array_equal(classes, want.labels) and np.array_equal(logits, want.logits)
    assert [t.nbytes // ns["FRAME_IN_BYTES"] for t in sends] == [3, 3, 2]
    # input checks: one frame alone, and what a silent cast would get wrong
    assert ns["check_frames"](frames[0]).shape == (1, *frames.shape[1:])
    for bad, needle in [(frames / 255.0, "whole pixel values"), (frames.astype(np.int16) + 1000, "0..255"),
                        (frames[:, :4], "NHWC")]:
        with pytest.raises(ValueError, match=needle):
            ns["check_frames"](bad)


@pytest.mark.rtl
def test_simulated_pynq_keeps_the_axi_dma_rules(accel_build, tmp_path, monkeypatch):
    """What a real AXI DMA does with the previous driver's pattern (one receive transfer for a whole
    batch): the transfer ends at the first frame's TLAST, the rest of the buffer keeps stale memory,
    and once the accelerator's FIFOs are full the send transfer never finishes. Plus pynq's own rules."""
    from dqhw.board import pynq_sim
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate.testbench import input_beats

    monkeypatch.setenv(pynq_sim.ENV_BUILD, str(accel_build))
    monkeypatch.setenv(pynq_sim.ENV_WORK, str(accel_build / "sim" / "pynq"))
    design = Design.load(accel_build / "rtl")
    (tmp_path / "dqhw.bit").write_bytes(b"")
    in_bytes = _pow2_bytes(design.in_width)
    frame_logit_bytes = design.logits_beats_per_frame * _pow2_bytes(design.logits_width)

    def send_buffer(frames):
        words = input_beats(design, frames)
        src = pynq_sim.allocate(shape=(len(words) * in_bytes,), dtype=np.uint8)
        src[:] = np.frombuffer(b"".join(w.to_bytes(in_bytes, "little") for w in words), dtype=np.uint8)
        return src

    ol = pynq_sim.Overlay(str(tmp_path / "dqhw.bit"))
    try:
        assert not hasattr(ol.dma1, "sendchannel")  # dma1 has no MM2S channel in the block design
        logits = pynq_sim.allocate(shape=(4 * frame_logit_bytes,), dtype=np.uint8)
        labels = pynq_sim.allocate(shape=(4,), dtype=np.uint8)
        ol.dma1.recvchannel.transfer(logits)
        ol.dma0.recvchannel.transfer(labels)
        with pytest.raises(pynq_sim.SimulatedDMAError, match="not idle"):
            ol.dma1.recvchannel.transfer(logits)
        ol.dma0.sendchannel.transfer(send_buffer(_test_frames(accel_build, 40)))
        ol.dma1.recvchannel.wait()
        ol.dma0.recvchannel.wait()
        assert (logits[frame_logit_bytes:] == pynq_sim.FILL).all()  # only frame 0 was written
        assert not (logits[:frame_logit_bytes] == pynq_sim.FILL).all() and (labels[1:] == pynq_sim.FILL).all()
        # a receive buffer smaller than a frame's packet: the DMA stops with an error
        small = pynq_sim.allocate(shape=(frame_logit_bytes - 1,), dtype=np.uint8)
        ol.dma1.recvchannel.transfer(small)
        with pytest.raises(pynq_sim.SimulatedDMAError, match="filled before TLAST"):
            ol.dma1.recvchannel.wait()
        # a transfer that does not start on the memory-mapped width (no realignment engine)
        with pytest.raises(pynq_sim.SimulatedDMAError, match="not aligned"):
            ol.dma1.recvchannel.transfer(logits[1:])
        # no receive transfer armed: the accelerator stalls, the send transfer of 40 frames never finishes
        with pytest.raises(pynq_sim.SimulatedDMAError, match="would never return"):
            ol.dma0.sendchannel.wait()
    finally:
        ol._sim.close()


# --------------------------------------------------------------------------------------------------
# the Vivado script: dry runs
# --------------------------------------------------------------------------------------------------
def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _check_script(build: Path) -> None:
    from dqhw.board.vivado_dry_run import dry_run
    from dqhw.rtlgen.generate import Design

    bd = dry_run(build)
    assert bd.ok, bd.error
    rtl, board, report = build / "rtl", build / "board", build / "report"
    design = Design.load(rtl)
    sources = {str(rtl / f) for f in _lines(rtl / "filelist.f")}
    memfiles = {str(rtl / f) for f in _lines(rtl / "memfiles.f")}
    assert memfiles == {str(rtl / f) for f in design.data_files} and memfiles
    added = [c[1] for c in bd.calls_named("add_files")]
    assert len(added) == len(set(added))
    generated = [p for p in added if p not in sources | memfiles]
    assert sources | memfiles <= set(added) and all(Path(p).is_file() for p in sources | memfiles)
    assert generated == [str(board / "vivado" / "dqhw_pynq-z2.gen/sources_1/bd/dqhw_bd/hdl/dqhw_bd_wrapper.v")]
    assert all(bd.files[p] == "Memory Initialization Files" for p in memfiles)
    # the clock, the reports next to dqhw's, the timing verdict before the bitstream
    clock_ns = json.loads((build / "build.json").read_text())["clock_ns"]
    assert float(bd.cells["ps7"].config["PCW_FPGA0_PERIPHERAL_FREQMHZ"]) == pytest.approx(1000.0 / clock_ns)
    assert bd.reports == {"report_utilization": str(report / "vivado_utilization.rpt"),
                          "report_timing_summary": str(report / "vivado_timing.rpt")}
    assert {c[1] for c in bd.calls_named("get_timing_paths")} == {"max", "min"}
    assert bd.index_of("report_timing_summary") < bd.index_of("get_timing_paths") < bd.index_of("write_bitstream")
    assert bd.bitstream == str(board / "dqhw.bit")
    assert (bd.copies[-1][1]) == str(board / "dqhw.hwh")
    # the block design: every accelerator port reaches its DMA channel at the DMA's width
    ports = {"s_axis": design.in_width, "m_axis_logits": design.logits_width}
    if design.label_width:
        ports["m_axis"] = design.label_width
    paths = bd.stream_paths(ports)
    assert {(p.dma, p.channel) for p in paths.values()} == (
        {("dma0", "mm2s"), ("dma1", "s2mm")} | ({("dma0", "s2mm")} if design.label_width else set()))
    for p in paths.values():
        assert p.dma_bits >= p.port_bits and p.dma_bits & (p.dma_bits - 1) == 0
        assert bool(p.converters) == (p.dma_bits != p.port_bits)
    assert bd.dma_config("dma0")["c_include_s2mm"] == ("1" if design.label_width else "0")


@pytest.mark.rtl
def test_vivado_script_dry_run(builds):
    for build in builds.values():
        _check_script(build)


@pytest.mark.rtl
def test_vivado_script_stops_on_negative_slack_and_missing_files(accel_build, tmp_path):
    from dqhw.board.vivado_dry_run import dry_run

    report = accel_build / "report"
    for kw, needle in [({"wns": -0.123, "tns": -4.5}, "WNS -0.123 ns, TNS -4.5 ns"),
                       ({"whs": -0.02, "ths": -0.1}, "WHS -0.02 ns, THS -0.1 ns")]:
        bd = dry_run(accel_build, **kw)
        assert not bd.ok and "timing not met" in bd.error and needle in bd.error, bd.error
        assert str(report / "vivado_timing.rpt") in bd.error
        assert bd.bitstream is None and not bd.copies  # no bitstream, no .hwh next to the driver
        assert set(bd.reports.values()) == {str(report / "vivado_utilization.rpt"), str(report / "vivado_timing.rpt")}
    bd = dry_run(accel_build, impl_status="route_design ERROR")
    assert not bd.ok and "implementation did not complete" in bd.error and bd.index_of("open_run") < 0
    # a memory file gone from the RTL folder: named before anything is built
    copy = tmp_path / "build"
    for sub in ("rtl", "board"):
        shutil.copytree(accel_build / sub, copy / sub, ignore=shutil.ignore_patterns("vivado"))
    gone = _lines(copy / "rtl" / "memfiles.f")[-1]
    (copy / "rtl" / gone).unlink()
    bd = dry_run(copy)
    assert not bd.ok and f"memory file {copy / 'rtl' / gone} is missing" in bd.error
    assert bd.index_of("create_bd_design") < 0


# --------------------------------------------------------------------------------------------------
# no build needed: the templates rendered for synthetic designs of many stream widths
# --------------------------------------------------------------------------------------------------
def _synthetic_build(root: Path, in_elems: int, logits_per_beat: int, logit_bits: int, has_class: bool) -> Path:
    from dqhw import contract

    rtl = root / "rtl"
    rtl.mkdir(parents=True)
    for f in ("a.sv", "dqhw_accel.v"):
        (rtl / f).write_text("// stand-in\n")
    for f in ("w0.memh", "t0.dat"):
        (rtl / f).write_text("0\n")
    (rtl / "filelist.f").write_text("a.sv\ndqhw_accel.v\n")
    (rtl / "memfiles.f").write_text("t0.dat\nw0.memh\n")
    classes = 10
    design = {
        "top": "dqhw_accel", "in_width": 8 * in_elems, "in_elem_bits": 8, "in_elems_per_beat": in_elems,
        "in_beats_per_frame": 4, "in_shape": [2, 2, in_elems],
        "label_width": 8 if has_class else 0, "label_bits": 4 if has_class else 0,
        "logits_width": contract.beat_bits(logits_per_beat, logit_bits), "logits_elem_bits": logit_bits,
        "logits_per_beat": logits_per_beat, "logits_beats_per_frame": classes // logits_per_beat,
        "num_classes": classes, "fifos": {}, "stages": [], "files": ["a.sv", "dqhw_accel.v"],
        "expected_cycles_per_frame": 10, "graph_sha": "0", "data_files": ["t0.dat", "w0.memh"]}
    (rtl / "design.json").write_text(json.dumps(design))
    return root


@pytest.mark.parametrize("in_elems, per_beat, bits, has_class", [
    (1, 1, 8, True), (3, 5, 6, True), (3, 5, 9, False), (9, 10, 13, True), (4, 2, 7, False)])
def test_templates_for_many_stream_widths(tmp_path, monkeypatch, in_elems, per_beat, bits, has_class):
    """Rendered for synthetic designs: the script passes a dry run and its block design carries bytes
    between memory and the accelerator's ports exactly as the driver packs and unpacks them."""
    from dqhw import contract
    from dqhw.board.package import write_board_package
    from dqhw.board.vivado_dry_run import dry_run
    from dqhw.boards import get_board
    from dqhw.rtlgen.generate import Design

    build = _synthetic_build(tmp_path, in_elems, per_beat, bits, has_class)
    design = Design.load(build / "rtl")
    scale = (np.arange(10) + 1) / 8.0
    write_board_package(build, get_board("pynq-z2"), class_affine=(scale, -scale), clock_ns=8.0)
    bd = dry_run(build)
    assert bd.ok, bd.error
    assert float(bd.cells["ps7"].config["PCW_FPGA0_PERIPHERAL_FREQMHZ"]) == 125.0
    ports = {"s_axis": design.in_width, "m_axis_logits": design.logits_width} | (
        {"m_axis": design.label_width} if has_class else {})
    paths = bd.stream_paths(ports)
    fake = type(sys)("pynq")
    fake.Overlay = fake.allocate = None
    monkeypatch.setitem(sys.modules, "pynq", fake)
    ns: dict = {"__name__": "dqhw_driver"}
    exec(compile((build / "board" / "driver.py").read_text(), "driver.py", "exec"), ns)  # noqa: S102
    rng = np.random.default_rng(in_elems * 100 + bits)
    # input: the driver's bytes, through the DMA and the converters, are the contract's beats
    frames = rng.integers(0, 256, size=(3, *design.in_shape), dtype=np.uint8)
    raw = ns["pack"](frames)
    dma_bytes = paths["s_axis"].dma_bits // 8
    words = [paths["s_axis"].to_accelerator(int.from_bytes(raw[i:i + dma_bytes].tobytes(), "little"))
             for i in range(0, len(raw), dma_bytes)]
    assert words == contract.pack_beats(frames.reshape(-1), 8, in_elems)
    # outputs: the accelerator's beats (signed logits sign-extended into the pad bits, as the RTL does),
    # through the converters into memory, unpacked by the driver
    n = 3
    acc = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(n, 10))
    beats = contract.pack_beats(acc.reshape(-1), bits, per_beat)
    pad = design.logits_width - per_beat * bits
    top_bit = 1 << (per_beat * bits - 1)
    beats = [b | (((1 << pad) - 1) << (per_beat * bits)) if b & top_bit and pad else b for b in beats]
    lp = paths["m_axis_logits"]
    mem = b"".join(lp.to_dma(b, False)[0].to_bytes(lp.dma_bits // 8, "little") for b in beats)
    got = ns["unpack_logits"](np.frombuffer(mem, dtype=np.uint8), n)
    assert np.array_equal(got, acc)
    if has_class:
        cp = paths["m_axis"]
        cls = rng.integers(0, 10, size=n)
        mem = b"".join(cp.to_dma(int(c), True)[0].to_bytes(cp.dma_bits // 8, "little") for c in cls)
        assert np.array_equal(ns["unpack_classes"](np.frombuffer(mem, dtype=np.uint8), n), cls)
    else:
        assert np.array_equal(ns["host_class"](acc), contract.host_class(acc, scale, -scale))


def test_subset_converter_remap():
    from dqhw.board.vivado_dry_run import Converter, parse_remap
    from dqhw.errors import DqhwError

    drop = Converter("c", 4, 3, parse_remap("tdata[23:0]", 32, 24, "c"), "pass")
    assert drop.data(0xAABBCCDD) == 0xBBCCDD and drop.last(True)
    fill = Converter("c", 5, 8, parse_remap("24'b0,tdata[39:0]", 40, 64, "c"), "pass")
    assert fill.data(0xFF_1234_5678) == 0xFF_1234_5678
    swap = Converter("c", 2, 2, parse_remap("tdata[7:0],tdata[15:8]", 16, 16, "c"), "0")
    assert swap.data(0x1234) == 0x3412 and not swap.last(True)
    with pytest.raises(DqhwError, match="is 16 bits"):
        parse_remap("tdata[15:0]", 32, 24, "c")
    with pytest.raises(DqhwError, match="outside"):
        parse_remap("tdata[40:0]", 32, 41, "c")
