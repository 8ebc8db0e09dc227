"""Which layer first differs: re-simulate one frame with every internal stream of `dqhw_accel` dumped
and compare each stream with the golden model's tensor of the node that produces it.

In a chain, stage i of `dqhw_accel` consumes stream s{i} and produces s{i+1} (the LabelSelect
stage reads a copy of its input made by the logits fork; that copy carries the same beats); in a
residual graph each stage names its streams (design.json `inputs`/`outputs`: a fork produces two, an
add consumes two), and stream s{k} carries the output tensor of the node that produces it. A
generated wrapper `tb_dqhw_accel_streams` instantiates the bulk testbench (tb_dqhw_accel) and
$fwrite's `<i> <tdata>` for every handshake on every s{i} (hierarchical references into the DUT), so
nothing in the accelerator or the bulk testbench changes.

Golden side: stream i carries the output tensor of chain node i-1 (stream 0: the graph input),
packed with contract.pack_beats in stream order with the node's folded elements per beat. Stream
order is NHWC for every node except FINN's depthwise ConvolutionInputGenerator (how MaxPool is
lowered), whose stream is (OH, OW, C/SIMD, KH, KW, SIMD) (contract.depthwise_swg_stream) while the
golden tensor is in im2col layout (OH, OW, KH*KW*C); FIFOs and width converters pass their input's
order through. Signed elements are sign-extended into a beat's pad bits, so beats are compared under
a mask of elements x bits. On a correct build every stream matches (tests/test_sim_failures.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqhw import contract
from dqhw.errors import DqhwError
from dqhw.resources import hw_dir
from dqhw.rtlgen.generate import Design
from dqhw.simulate import testbench as tb
from dqhw.simulate.bulk_build import WATCHDOG_CYCLES
from dqhw.simulate.verilator import run_cocotb

DUMP_TOP = "tb_dqhw_accel_streams"
PASS_THROUGH = ("StreamingFIFO", "StreamingDataWidthConverter", "Reshape")
FORKS = ("DqhwDuplicateStreams", "DuplicateStreams")


@dataclass
class StreamSpec:
    index: int  # stream s{index} of dqhw_accel
    stage: str  # producing stage ("input" for s0)
    op_type: str
    tensor: str  # golden tensor name
    bits: int  # element bits
    elems_per_beat: int
    order: tuple | None  # None: NHWC; ("depthwise", kh, kw, channels, simd)
    bipolar: bool = False  # BIPOLAR elements: -1/+1 travel as the bits 0/1

    @property
    def mask(self) -> int:
        return (1 << (self.bits * self.elems_per_beat)) - 1

    def golden_elements(self, tensor: np.ndarray) -> np.ndarray:
        """One frame's golden tensor (1, ...) -> the flat element sequence in stream order."""
        x = np.asarray(tensor)
        if self.order is None:
            return x.reshape(-1)
        _, kh, kw, ch, simd = self.order
        oh, ow = x.shape[1], x.shape[2]
        return x.reshape(oh, ow, kh, kw, ch // simd, simd).transpose(0, 1, 4, 2, 3, 5).reshape(-1)

    def golden_beats(self, tensor: np.ndarray) -> list[int]:
        elements = contract.stream_elements(self.golden_elements(tensor), bipolar=self.bipolar)
        return contract.pack_beats(elements, self.bits, self.elems_per_beat)


def stream_specs(build_dir: str | Path, design: Design | None = None) -> list[StreamSpec]:
    """StreamSpec for s0 .. s{n} of the build's dqhw_accel, from its dataflow graph (same chain
    order as generate_rtl)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.rtlgen.generate import custom_op_getter, stream_nodes

    build_dir = Path(build_dir)
    design = design or Design.load(build_dir / "rtl")
    get_custom_op = custom_op_getter()
    model = ModelWrapper(str(build_dir / "dataflow.onnx"))
    chain = stream_nodes(model)
    if len(chain) != len(design.stages) or any(n.name != s.name for n, s in zip(chain, design.stages)
                                               if s.kind != "fifo"):
        raise DqhwError(f"{build_dir}: rtl/design.json does not match dataflow.onnx (regenerate the RTL)")
    specs = [StreamSpec(0, "input", "input", model.graph.input[0].name, design.in_elem_bits,
                        design.in_elems_per_beat, None)]
    order_of: dict[str, tuple | None] = {"s0": None}  # stream -> its element order
    for i, (node, stage) in enumerate(zip(chain, design.stages)):
        inst = get_custom_op(node)
        base = node.op_type[:-4] if node.op_type.endswith(("_rtl", "_hls")) else node.op_type
        ins, outs = (list(stage.inputs) or [f"s{i}"]), (list(stage.outputs) or [f"s{i + 1}"])
        order = None
        if base == "ConvolutionInputGenerator" and int(inst.get_nodeattr("depthwise")):
            kh, kw = (int(v) for v in inst.get_nodeattr("ConvKernelDim"))
            order = ("depthwise", kh, kw, int(inst.get_nodeattr("IFMChannels")), int(inst.get_nodeattr("SIMD")))
        elif base.startswith(PASS_THROUGH) or base.startswith(FORKS):
            order = order_of.get(ins[0])
        out_dt = inst.get_output_datatype(0)
        for k, name in enumerate(outs):
            order_of[name] = order
            specs.append(StreamSpec(int(name[1:]), stage.name, node.op_type, node.output[k], int(out_dt.bitwidth()),
                                    int(inst.get_folded_output_shape(0)[-1]), order, out_dt.name == "BIPOLAR"))
    return specs


def stream_count(design: Design) -> int:
    """Streams s0 .. s{n-1} of dqhw_accel (a chain: one per stage plus the input)."""
    return 1 + sum(len(s.outputs) or 1 for s in design.stages)


def dump_testbench_verilog(design: Design) -> str:
    """tb_dqhw_accel_streams: the bulk testbench plus one $fwrite per internal stream handshake."""
    n = stream_count(design) - 1
    writes = "\n".join(
        f'            if (tb.dut.s{i}_tvalid && tb.dut.s{i}_tready) $fwrite(fd, "{i} %h\\n", tb.dut.s{i}_tdata);'
        for i in range(n + 1))
    return f"""// tb_dqhw_accel_streams: generated by dqhw.simulate.streams; the bulk testbench with every
// internal stream s0..s{n} of dqhw_accel written to OUT_DIR/streams.out on each handshake.
`default_nettype none
/* verilator lint_off UNUSEDSIGNAL */
module {DUMP_TOP} #(
    parameter IN_FILE = "input.memh",
    parameter COUNT_FILE = "count.memh",
    parameter OUT_DIR = ".",
    parameter integer WATCHDOG = 200000,
    parameter integer STALL_IN = 0,
    parameter integer STALL_OUT = 0
) (
    input  wire clk /* verilator public_flat_rw */,
    output wire done /* verilator public_flat_rw */
);
    {tb.TB_TOP} #(
        .IN_FILE(IN_FILE), .COUNT_FILE(COUNT_FILE), .OUT_DIR(OUT_DIR), .WATCHDOG(WATCHDOG),
        .STALL_IN(STALL_IN), .STALL_OUT(STALL_OUT)
    ) tb (.clk(clk), .done(done));

    integer fd;
    initial fd = $fopen({{OUT_DIR, "/streams.out"}}, "w");

    always @(posedge clk) begin
        if (tb.rst_n && !tb.done) begin
{writes}
        end
    end

    final $fclose(fd);
endmodule
`default_nettype wire
"""


def dump_streams(build_dir: str | Path, work_dir: str | Path, image: np.ndarray) -> dict[int, list[int]]:
    """Simulate one frame; returns {stream index: [beats in handshake order]}."""
    rtl_dir = (Path(build_dir) / "rtl").resolve()
    work = Path(work_dir).resolve()
    design = Design.load(rtl_dir)
    work.mkdir(parents=True, exist_ok=True)
    tb_file = rtl_dir / "tb_dqhw_accel.v"
    if not tb_file.is_file() or tb_file.read_text() != tb.testbench_verilog(design):
        tb_file.write_text(tb.testbench_verilog(design))
    dump_file = work / "tb_dqhw_accel_streams.v"
    if not dump_file.is_file() or dump_file.read_text() != dump_testbench_verilog(design):
        dump_file.write_text(dump_testbench_verilog(design))
    images = np.asarray(image)[None] if np.asarray(image).ndim == len(design.in_shape) else np.asarray(image)
    run_dir, _ = tb.prepare_bulk_run(rtl_dir, work, design, images)
    params = {"WATCHDOG": WATCHDOG_CYCLES, "STALL_IN": 0, "STALL_OUT": 0}
    result = run_cocotb(
        sources=[rtl_dir / f for f in design.files] + [tb_file, dump_file], toplevel=DUMP_TOP,
        test_module="test_accel_bulk", build_dir=work / "build", test_dir=run_dir, parameters=params,
        python_path=[hw_dir("sim")], build_args=["--no-public-flat-rw", "-O3"],
        extra_env={"DQHW_SIM_TIMING": str(run_dir / "timing.json")},
    )
    out = run_dir / "streams.out"
    if not result.passed or not out.is_file():
        raise DqhwError(f"stream dump simulation failed: {result.message} (see {result.log})")
    streams: dict[int, list[int]] = {i: [] for i in range(stream_count(design))}
    for line in out.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:  # two-state simulation: no x/z digits to filter
            streams[int(parts[0])].append(int(parts[1], 16))
    return streams


def compare_streams(specs: list[StreamSpec], streams: dict[int, list[int]], tensors: dict[str, np.ndarray]
                    ) -> list[dict]:
    """Per stream: {"stream", "stage", "op_type", "beats", "ok", and for a difference "beat", "rtl",
    "golden"} (rtl/golden: the first differing beat under the element mask; None = missing)."""
    rows = []
    for spec in specs:
        if spec.tensor not in tensors:
            raise DqhwError(f"golden model has no tensor {spec.tensor} (stream s{spec.index})")
        want = spec.golden_beats(tensors[spec.tensor][:1])
        # beats beyond one frame are the start of the next one (FMPadding emits the next frame's top
        # padding, a sliding window its first windows, before the testbench stops): not compared
        got = [b & spec.mask for b in streams.get(spec.index, [])[: len(want)]]
        row = {"stream": spec.index, "stage": spec.stage, "op_type": spec.op_type, "beats": len(want),
               "rtl_beats": len(streams.get(spec.index, [])), "ok": got == want}
        if not row["ok"]:
            k = next((j for j in range(min(len(got), len(want))) if got[j] != want[j]), min(len(got), len(want)))
            row.update(beat=k, rtl=got[k] if k < len(got) else None, golden=want[k] if k < len(want) else None)
        rows.append(row)
    return rows


def first_differing_stage(build_dir: str | Path, work_dir: str | Path, image: np.ndarray, golden=None
                          ) -> dict | None:
    """Re-simulate `image` (one uint8 NHWC frame) with every internal stream dumped; return the first
    stage (in stream order) whose output differs from the golden model:
    {"stage", "op_type", "stream", "beat", "rtl", "golden", "beats"}, or None when every stream matches
    ({"stage": "unknown", "error": ...} when the stream dump itself fails).

    `build_dir`: the build (holding dataflow.onnx and rtl/). `golden`: a GoldenResult of this frame
    with keep_intermediates=True (computed here when not given)."""
    build_dir = Path(build_dir)
    if (build_dir / "design.json").is_file() and not (build_dir / "rtl" / "design.json").is_file():
        build_dir = build_dir.parent  # given the rtl/ folder
    image = np.asarray(image)
    if golden is None:
        from dqhw.golden import GoldenModel

        golden = GoldenModel.from_build(build_dir).run(image[None], keep_intermediates=True)
    try:
        specs = stream_specs(build_dir)
        streams = dump_streams(build_dir, work_dir, image)
    except DqhwError as e:  # the mismatch itself stays the reported failure
        return {"stage": "unknown", "op_type": None, "error": str(e)[:300]}
    for row in compare_streams(specs, streams, golden.tensors):
        if not row["ok"]:
            return {k: row[k] for k in ("stage", "op_type", "stream", "beat", "rtl", "golden", "beats")}
    return None
