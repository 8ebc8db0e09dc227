"""From the folded dataflow graph of `dqhw build` to one stitched Verilog top, `dqhw_accel`.

Every node becomes one AXI-Stream instance:
- FINN's RTL nodes (ConvolutionInputGenerator_rtl, FMPadding_rtl, StreamingDataWidthConverter_rtl,
  Thresholding_rtl): finn-plus' own `generate_hdl` fills its templates (hw_codegen), sources copied in;
- StreamingFIFO_rtl: dqhw_fifo (FINN's fifo.sv does not build in Verilator), depth from sizing;
- DqhwMVAU / DqhwMaxPool / DqhwLabelSelect: rtl/dqhw_*.v with the node's `rtl_params()` and ROM files
  written by dqhw.contract (the one definition of the memory layout).
The last MVAU's raw accumulators are forked (dqhw_stream_fork): one copy feeds LabelSelect (the class
on `m_axis`), the other leaves on `m_axis_logits` so every logit is compared, not only the class.
Both outputs carry `tlast` on the last beat of each frame (the AXI DMA needs it).

Output (`DIR/`): `dqhw_accel.v`, the node sources, every memory file the RTL reads (dqhw's ROM
`.memh` files, finn's threshold `.dat` files, ...), `filelist.f` (HDL in compile order), `memfiles.f`
(memory files, opened by `$readmemh` relative to the simulator's / Vivado's working directory) and
`design.json` (stream widths, beats per frame, FIFO names/depths, the node table, both file lists)
which the simulation and the testbench generator read. Generation fails when a source references a
memory or include file that is not in DIR (checked by `check_references`).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dqhw import contract
from dqhw.errors import DqhwError
from dqhw.estimate import fifo_bram_min_depth
from dqhw.layers import verilog_modules
from dqhw.resources import hw_dir
from dqhw.templates import render

FINN_RTL_NODES = ("ConvolutionInputGenerator_rtl", "FMPadding_rtl", "StreamingDataWidthConverter_rtl",
                  "Thresholding_rtl", "Reshape_rtl")
DQHW_NODES = verilog_modules()  # dqhw node type -> rtl/ module (dqhw.layers)
# port prefixes of dqhw's modules with more than one input or output stream
IN_PORTS = {"dqhw_add": ("s0_axis", "s1_axis")}
OUT_PORTS = {"dqhw_stream_fork": ("m0_axis", "m1_axis")}
DEFAULT_FIFO_DEPTH = 2
HDL_SUFFIXES = (".v", ".sv", ".vh", ".svh")


@dataclass
class Stage:
    """One instance in the chain: consumes stream `index`, produces stream `index + 1`."""

    name: str
    kind: str  # fifo | finn | dqhw
    op_type: str
    module: str
    in_width: int
    out_width: int
    params: dict = field(default_factory=dict)
    ports: dict = field(default_factory=dict)  # clk, rst, s_axis, m_axis base names
    fifo_depth: int = 0
    frame_beats: int = 0  # beats of this stage's input stream per frame
    # the streams of dqhw_accel it consumes / produces ("s<k>"; a chain: s<i> -> s<i+1>; a residual
    # graph: a fork produces two, an add consumes two)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)


@dataclass
class Design:
    top: str
    in_width: int  # s_axis TDATA bits
    in_elem_bits: int
    in_elems_per_beat: int
    in_beats_per_frame: int
    in_shape: list  # NHWC of one frame
    label_width: int  # m_axis TDATA bits (0 if no LabelSelect)
    label_bits: int
    logits_width: int  # m_axis_logits TDATA bits
    logits_elem_bits: int
    logits_per_beat: int
    logits_beats_per_frame: int
    num_classes: int
    fifos: dict  # instance name -> depth
    stages: list
    files: list
    expected_cycles_per_frame: int  # FINN's analytic bottleneck
    graph_sha: str
    data_files: list = field(default_factory=list)  # memory files the RTL reads ($readmemh), in DIR

    def to_json(self) -> dict:
        d = asdict(self)
        d["stages"] = [asdict(s) if not isinstance(s, dict) else s for s in self.stages]
        return d

    @classmethod
    def load(cls, rtl_dir: str | Path) -> Design:
        path = Path(rtl_dir) / "design.json"
        if not path.is_file():
            raise DqhwError(f"{rtl_dir}: no design.json (run dqhw build first)")
        d = json.loads(path.read_text())
        d["stages"] = [Stage(**s) for s in d["stages"]]
        return cls(**d)


def custom_op_getter():
    from qonnx.custom_op.registry import getCustomOp

    from dqhw import customop  # noqa: F401  (registers the dqhw domain, prepares finn)

    return getCustomOp



def stream_inputs(model, node) -> list[str]:
    """The streams a node consumes: its inputs that are not initializers (weights, thresholds)."""
    return [i for i in node.input if i and model.get_initializer(i) is None]


def stream_nodes(model) -> list:
    """The dataflow nodes in stream order: a single chain in chain order; a residual graph (forks
    with two outputs, adds with two inputs) in a deterministic topological order (depth first from
    the input, the first output of a fork before the second), which is the order of dqhw_accel's
    instances, of its FIFO names (fifo_0, fifo_1, ...) and of design.json's stages. Every stream
    must have exactly one consumer (the graph output: none)."""
    nodes = list(model.graph.node)
    if not nodes:
        raise DqhwError("the dataflow graph is empty")
    consumers: dict[str, list] = {}
    for n in nodes:
        for t in stream_inputs(model, n):
            consumers.setdefault(t, []).append(n)
    for t, cs in consumers.items():
        if len(cs) > 1:
            raise DqhwError(f"stream {t} has {len(cs)} consumers ({', '.join(c.name for c in cs)}); a stream "
                            "feeds one node (a fork duplicates it)")
    order, done, avail = [], set(), {model.graph.input[0].name}
    stack = [model.graph.input[0].name]
    while stack:
        tensor = stack.pop()
        for n in consumers.get(tensor, []):
            if n.name in done or not all(i in avail for i in stream_inputs(model, n)):
                continue  # an add waits for its second operand
            done.add(n.name)
            order.append(n)
            avail.update(n.output)
            stack.extend(reversed(list(n.output)))
    if len(order) != len(nodes):
        left = [n.name for n in nodes if n.name not in done]
        raise DqhwError(f"the dataflow graph is not connected to its input: {', '.join(left[:3])}")
    return order


def graph_and_bytes(dataflow) -> tuple:
    """(a model generate_rtl may change, the graph's serialized bytes) of a graph file or a ModelWrapper
    (its bytes are the file model.save would write)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.customop import load_dataflow

    if isinstance(dataflow, ModelWrapper):
        data = dataflow.model.SerializeToString()
        return ModelWrapper(data), data
    return load_dataflow(dataflow), Path(dataflow).read_bytes()


def generate_rtl(dataflow, out_dir: str | Path, fpga_part: str = "xc7z020clg400-1",
                 clock_ns: float = 10.0, fifo_depths: dict[str, int] | None = None) -> Design:
    """Write the stitched accelerator for the dataflow graph `dataflow` (a file or a ModelWrapper, left
    unchanged) into `out_dir` (created/replaced)."""
    model, graph_bytes = graph_and_bytes(dataflow)
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    (out / "nodes").mkdir(parents=True)
    acc = _Stages(model, out, fpga_part, clock_ns, dict(fifo_depths or {}))
    for node in stream_nodes(model):
        acc.add(node)
    design = _design(model, acc, graph_bytes)
    (out / "dqhw_accel.v").write_text(_top_verilog(design))
    design.files = _collect_files(acc.files, out, acc.stages)
    design.data_files = _collect_data_files(acc.data_files, out)
    check_references(out, design)
    (out / "filelist.f").write_text("\n".join(design.files) + "\n")
    (out / "memfiles.f").write_text("".join(f + "\n" for f in design.data_files))
    (out / "design.json").write_text(json.dumps(design.to_json(), indent=2) + "\n")
    return design


class _Stages:
    """The stages of dqhw_accel, one per stream node, with the sources and memory files they need."""

    def __init__(self, model, out: Path, fpga_part: str, clock_ns: float, fifo_depths: dict[str, int]):
        self.model, self.out, self.fpga_part, self.clock_ns = model, out, fpga_part, clock_ns
        self.fifo_depths = fifo_depths
        self.get_custom_op = custom_op_getter()
        self.stages: list[Stage] = []
        self.files: list[Path] = []
        self.data_files: list[Path] = []
        self.mvaus: list = []
        self.stream_of = {model.graph.input[0].name: "s0"}

    def add(self, node) -> None:
        inst = self.get_custom_op(node)
        op = node.op_type
        in_w = int(inst.get_instream_width_padded(0))
        out_w = int(inst.get_outstream_width_padded(0))
        ins = [self.stream_of[t] for t in stream_inputs(self.model, node)]
        outs = []
        for t in node.output:
            self.stream_of[t] = f"s{len(self.stream_of)}"
            outs.append(self.stream_of[t])
        if op == "StreamingFIFO_rtl":
            stage = self.fifo(inst, op, in_w)
        elif op in FINN_RTL_NODES:
            stage = self.finn(node, inst, op, in_w, out_w)
        elif op in DQHW_NODES:
            stage = self.dqhw(node, inst, op, in_w, out_w)
        else:
            raise DqhwError(f"node {node.name}: {op} has no RTL in dqhw yet")
        self.stages.append(stage)
        stage.inputs, stage.outputs = ins, outs
        for k in range(len(ins)):
            w = int(inst.get_instream_width_padded(k))
            if w != _stream_width(self.stages, ins[k], self.stages[0].in_width):
                raise DqhwError(f"internal: {node.name} input {k} is {w} bits wide, its stream is not")

    def fifo(self, inst, op: str, in_w: int) -> Stage:
        name = f"fifo_{sum(s.kind == 'fifo' for s in self.stages)}"
        depth = int(self.fifo_depths.get(name, max(DEFAULT_FIFO_DEPTH, int(inst.get_nodeattr("depth")))))
        if depth < 2:
            raise DqhwError(f"{name}: FIFO depth must be at least 2, got {depth}")
        params = {"WIDTH": in_w, "DEPTH": depth}
        style = str(inst.get_nodeattr("ram_style"))
        if style != "auto":  # storage chosen for the budget (dqhw.folding.search.choose_fifo_storage)
            params["BRAM_MIN_DEPTH"] = min(fifo_bram_min_depth(style), depth + 1)
        return Stage(name, "fifo", op, "dqhw_fifo", in_w, in_w, params, fifo_depth=depth,
                     frame_beats=_frame_beats(inst))

    def finn(self, node, inst, op: str, in_w: int, out_w: int) -> Stage:
        gen_dir = self.out / "nodes" / node.name
        gen_dir.mkdir(parents=True, exist_ok=True)
        inst.set_nodeattr("code_gen_dir_ipgen", str(gen_dir.resolve()))
        inst.generate_hdl(self.model, self.fpga_part, self.clock_ns)
        intf = inst.get_verilog_top_module_intf_names()
        # FMPadding's template always has an AXI-lite port, listed by finn only in dynamic mode
        top_src = "\n".join(Path(f).read_text() for f in inst.get_rtl_file_list(abspath=True)
                            if Path(f).name.startswith(node.name))
        axilite = set(intf.get("axilite", [])) | ({"s_axilite"} if "s_axilite_AWVALID" in top_src else set())
        ports = {"clk": intf["clk"][0], "rst": intf["rst"][0], "s_axis": intf["s_axis"][0][0],
                 "m_axis": intf["m_axis"][0][0], "axilite": sorted(axilite)}
        self.files += [Path(f) for f in inst.get_rtl_file_list(abspath=True)]
        # what the generated sources read at elaboration (Thresholding_rtl: its *_threshs_*.dat)
        self.data_files += sorted(f for f in gen_dir.iterdir() if f.is_file() and f.suffix not in HDL_SUFFIXES)
        return Stage(node.name, "finn", op, inst.get_verilog_top_module_name(), in_w, out_w, {}, ports)

    def dqhw(self, node, inst, op: str, in_w: int, out_w: int) -> Stage:
        params = dict(inst.rtl_params())
        if op == "DqhwMVAU":
            params.update(_write_mvau_roms(inst, self.model, node.name, self.out))
            self.data_files += [self.out / params[k] for k in ("WEIGHT_FILE", "THRESH_FILE") if k in params]
            self.mvaus.append(inst)
        return Stage(node.name, "dqhw", op, DQHW_NODES[op], in_w, out_w, params)


def _design(model, acc: _Stages, graph_bytes: bytes) -> Design:
    """The design description of the stages: the ports' widths and element layout, the logits' beats."""
    get_custom_op, stages = acc.get_custom_op, acc.stages
    if not acc.mvaus or acc.mvaus[-1].get_nodeattr("USE_THRESHOLDS"):
        raise DqhwError("the dataflow graph does not end in an MVAU with raw accumulators (logits)")
    last_mvau = acc.mvaus[-1]
    first = get_custom_op(model.graph.node[0])
    in_shape = [int(v) for v in model.get_tensor_shape(model.graph.input[0].name)]
    folded_in = first.get_folded_input_shape(0)
    label_stage = next((s for s in stages if s.op_type == "DqhwLabelSelect"), None)
    lp = last_mvau.rtl_params()
    # the logits leave on the stream that enters LabelSelect (or on the last stream without one): a
    # width converter may sit between the last MVAU and that point (its PE differs from LabelSelect's)
    if label_stage is not None:
        logits_per_beat = int(get_custom_op(model.get_node_from_name(label_stage.name)).get_folded_input_shape(0)[-1])
    else:
        logits_per_beat = int(get_custom_op(model.graph.node[-1]).get_folded_output_shape(0)[-1])
    logits_total = int(lp["MH"] * np.prod(last_mvau.get_nodeattr("numInputVectors")))
    if logits_per_beat < 1 or logits_total % logits_per_beat:
        raise DqhwError(f"the logits stream carries {logits_per_beat} logits per beat, which does not divide the "
                        f"{logits_total} logits of a frame")
    return Design(
        top="dqhw_accel", in_width=stages[0].in_width, in_elem_bits=first.get_input_datatype(0).bitwidth(),
        in_elems_per_beat=int(folded_in[-1]), in_beats_per_frame=int(np.prod(folded_in[:-1])),
        in_shape=in_shape[1:],
        label_width=label_stage.out_width if label_stage else 0,
        label_bits=label_stage.params["OUT_BITS"] if label_stage else 0,
        logits_width=contract.beat_bits(logits_per_beat, lp["ACC_BITS"]), logits_elem_bits=lp["ACC_BITS"],
        logits_per_beat=logits_per_beat, logits_beats_per_frame=logits_total // logits_per_beat,
        num_classes=int(lp["MH"]), fifos={s.name: s.fifo_depth for s in stages if s.kind == "fifo"},
        stages=stages, files=[],
        expected_cycles_per_frame=int(max(int(get_custom_op(n).get_exp_cycles()) for n in model.graph.node
                                          if n.op_type != "StreamingFIFO_rtl")),
        graph_sha=hashlib.sha256(graph_bytes).hexdigest()[:16],
    )


MANIFEST = "manifest.json"


def write_manifest(rtl_dir: str | Path) -> dict[str, str]:
    """Seal the RTL folder: sha256 of every source, memory file and design.json, in DIR/manifest.json.
    Written once the FIFO depths are final; the build's proof and `dqhw sim` check that they simulate
    exactly these files."""
    rtl_dir = Path(rtl_dir)
    design = Design.load(rtl_dir)
    names = sorted(set(design.files) | set(design.data_files) | {"design.json"})
    digest = {n: hashlib.sha256((rtl_dir / n).read_bytes()).hexdigest() for n in names}
    (rtl_dir / MANIFEST).write_text(json.dumps(digest, indent=2) + "\n")
    return digest


def manifest_changes(rtl_dir: str | Path) -> list[str]:
    """Files of the sealed RTL folder that are missing or differ from DIR/manifest.json ("manifest.json"
    itself when the folder was never sealed)."""
    rtl_dir = Path(rtl_dir)
    path = rtl_dir / MANIFEST
    if not path.is_file():
        return [MANIFEST]
    try:
        digest = json.loads(path.read_text())
    except ValueError:
        return [MANIFEST]
    changed = []
    for name, sha in sorted(digest.items()):
        f = rtl_dir / name
        if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != sha:
            changed.append(name)
    return changed


def _stream_width(stages: list, name: str, in_width: int) -> int:
    """TDATA bits of stream `name` (s0: the accelerator input; else its producer's output width)."""
    if name == "s0":
        return in_width
    return next(s.out_width for s in stages if name in s.outputs)


def _frame_beats(inst) -> int:
    shape = inst.get_folded_input_shape(0)
    return int(np.prod(shape[:-1]))


def fifo_frame_beats(dataflow) -> dict[str, int]:
    """{fifo instance name: beats per frame of its stream}, in the names generate_rtl uses (`dataflow`:
    a graph file or a ModelWrapper)."""
    get_custom_op = custom_op_getter()
    model = graph_and_bytes(dataflow)[0]
    out, k = {}, 0
    for node in stream_nodes(model):
        if node.op_type == "StreamingFIFO_rtl":
            out[f"fifo_{k}"] = _frame_beats(get_custom_op(node))
            k += 1
    return out


def _write_mvau_roms(inst, model, name: str, out: Path) -> dict:
    p = inst.rtl_params()
    weights = inst.weights(model)
    thresholds = inst.thresholds(model)
    wfile = out / f"{name}_weights.memh"
    tfile = out / f"{name}_thresholds.memh"
    if thresholds is not None:
        lo, hi = int(inst.get_nodeattr("ACC_MIN")), int(inst.get_nodeattr("ACC_MAX"))
        thresholds = contract.clip_thresholds(thresholds, lo, hi)
    contract.write_mvau_memories(weights, thresholds, p["PE"], p["SIMD"], p["W_BITS"], p["ACC_BITS"], wfile,
                                 tfile if thresholds is not None else None)
    params = {"WEIGHT_FILE": wfile.name}
    if thresholds is not None:
        params["THRESH_FILE"] = tfile.name
    return params


def _copy_flat(files: list[Path], out: Path, what: str) -> list[str]:
    """Copy `files` into `out` under their bare names (each name once; two different files under one
    name are an error); returns the names in first-seen order."""
    seen: dict[str, bytes] = {}
    for f in map(Path, files):
        data = f.read_bytes()
        if f.name in seen:
            if seen[f.name] != data:
                raise DqhwError(f"two different {what} named {f.name}")
            continue
        seen[f.name] = data
        dest = out / f.name
        if f.resolve() != dest.resolve():
            dest.write_bytes(data)
    return list(seen)


def _collect_files(files: list[Path], out: Path, stages: list | None = None) -> list[str]:
    """Every source in `out` (a self-contained RTL folder): dqhw's modules, then the nodes' sources;
    packages first (SystemVerilog needs them before their users), the top last. The residual
    modules (dqhw_add, dqhw_global_acc_pool) only where a stage uses them."""
    used = {s.module for s in stages or []}
    own = ["dqhw_fifo.v", "dqhw_mvau.v", "dqhw_maxpool.v", "dqhw_label_select.v", "dqhw_stream_fork.v"]
    own += [f"{m}.v" for m in ("dqhw_add", "dqhw_global_acc_pool") if m in used]
    names = _copy_flat([hw_dir("rtl") / n for n in own] + list(files), out, "sources")
    names.sort(key=lambda n: (0 if n.endswith("_pkg.sv") else 1))
    return names + ["dqhw_accel.v"]


def _collect_data_files(files: list[Path], out: Path) -> list[str]:
    """Every memory file in `out`, flat: the RTL opens them by bare name, relative to the simulator's
    working directory."""
    return sorted(_copy_flat(files, out, "memory files"))


_READMEM = re.compile(r'\$readmem[hb]\s*\(\s*"([^"]+)"')
_INCLUDE = re.compile(r'`include\s+"([^"]+)"')
# string literals that name a memory file (or a path prefix of several: finn's THRESHOLDS_PATH)
_MEM_LITERAL = re.compile(r'"(\./[^"\s%]*|[^"\s%]+\.(?:dat|mem|memh|hex))"')
MEM_SUFFIXES = (".dat", ".mem", ".memh", ".hex")


def check_references(out: Path, design: Design) -> None:
    """Every memory file, include file and path prefix that a source in `out` names must be there:
    a missing `$readmemh` file is not an error to Verilator (a warning, then zeros) nor always to
    Vivado, so a build would otherwise ship RTL that computes with all-zero memories."""
    present = set(design.files) | set(design.data_files)
    for name in design.files:
        text = (out / name).read_text(errors="replace")
        text = re.sub(r"//[^\n]*", "", text)  # comments may mention example paths
        refs = set(_READMEM.findall(text)) | set(_MEM_LITERAL.findall(text))
        for inc in _INCLUDE.findall(text):
            if Path(inc).name not in present:
                raise DqhwError(f"{name} includes {inc}, which is not in {out}")
        for ref in refs:
            base = Path(ref).name
            if ref.startswith("./") and Path(ref).suffix not in MEM_SUFFIXES:  # a prefix, e.g. "./Thr_0_"
                if not any(d.startswith(base) for d in design.data_files):
                    raise DqhwError(f"{name} reads memory files {ref}*, none of which is in {out}")
            elif base not in present:
                raise DqhwError(f"{name} reads the memory file {ref}, which is not in {out}")


# --------------------------------------------------------------------------------------------------
# the top module
# --------------------------------------------------------------------------------------------------
_AXILITE_INPUTS = ("AWVALID", "AWADDR", "WVALID", "WDATA", "WSTRB", "BREADY", "ARVALID", "ARADDR", "RREADY")
_AXILITE_OUTPUTS = ("AWREADY", "WREADY", "BVALID", "BRESP", "ARREADY", "RVALID", "RDATA", "RRESP")


def _param_text(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return str(int(value))


def _streams(stage: Stage, i: int) -> tuple[list[str], list[str]]:
    """The stream names a stage connects (a design.json written before residual graphs: s{i} -> s{i+1})."""
    return (list(stage.inputs) or [f"s{i}"]), (list(stage.outputs) or [f"s{i + 1}"])


def _instance(stage: Stage, i: int, rename: dict[str, str] | None = None) -> str:
    ins, outs = _streams(stage, i)
    ins = [(rename or {}).get(x, x) for x in ins]
    src, dst = ins[0], outs[0]
    if stage.kind == "finn":
        p = stage.ports
        # run-time configuration ports (FMPadding's AXI-lite) are tied off: dqhw uses the
        # compile-time defaults the template was filled with
        tie = "".join(f"        .{a}_{sig}(1'b0),\n" if sig in ("AWVALID", "WVALID", "BREADY", "ARVALID", "RREADY")
                      else f"        .{a}_{sig}(0),\n"
                      for a in p.get("axilite", []) for sig in _AXILITE_INPUTS)
        tie += "".join(f"        .{a}_{sig}(),\n" for a in p.get("axilite", []) for sig in _AXILITE_OUTPUTS)
        return (f"    {stage.module} {stage.name} (\n"
                f"        .{p['clk']}(clk), .{p['rst']}(rst_n),\n{tie}"
                f"        .{p['s_axis']}_TDATA({src}_tdata), .{p['s_axis']}_TVALID({src}_tvalid), "
                f".{p['s_axis']}_TREADY({src}_tready),\n"
                f"        .{p['m_axis']}_TDATA({dst}_tdata), .{p['m_axis']}_TVALID({dst}_tvalid), "
                f".{p['m_axis']}_TREADY({dst}_tready)\n    );\n")
    params = ",\n".join(f"        .{k}({_param_text(v)})" for k, v in stage.params.items())
    extra = ""
    if stage.kind == "fifo":
        extra = f",\n        .count(), .peak({stage.name}_peak)"
    in_ports = IN_PORTS.get(stage.module, ("s_axis",))
    out_ports = OUT_PORTS.get(stage.module, ("m_axis",))
    if len(in_ports) != len(ins) or len(out_ports) != len(outs):
        raise DqhwError(f"internal: {stage.name} ({stage.module}) has {len(ins)} input and {len(outs)} output streams, "
                        f"its module {len(in_ports)} and {len(out_ports)}")
    conns = [f".{port}_tdata({w}_tdata), .{port}_tvalid({w}_tvalid), .{port}_tready({w}_tready)"
             for port, w in list(zip(in_ports, ins)) + list(zip(out_ports, outs))]
    return (f"    {stage.module} #(\n{params}\n    ) {stage.name} (\n"
            f"        .clk(clk), .rst_n(rst_n),\n        " + ",\n        ".join(conns) +
            f"{extra}\n    );\n")


TEMPLATES = Path(__file__).parent / "templates"


def _top_verilog(d: Design) -> str:
    """dqhw_accel.v from templates/dqhw_accel*.v.in: the streams, every stage, the outputs."""
    stages: list[Stage] = d.stages
    label_idx = next((i for i, s in enumerate(stages) if s.op_type == "DqhwLabelSelect"), None)
    widths = {"s0": stages[0].in_width}
    consumed: set[str] = set()
    for i, s in enumerate(stages):
        ins, outs = _streams(s, i)
        consumed.update(ins)
        for o in outs:
            widths[o] = s.out_width
    ends = [w for w in widths if w not in consumed]
    if len(ends) != 1:
        raise DqhwError(f"internal: the design ends in {len(ends)} streams ({', '.join(ends)}), not one")
    last = ends[0]  # the class (with LabelSelect) or the logits
    lw = d.logits_width
    logits = _streams(stages[label_idx], label_idx)[0][0] if label_idx is not None else last
    if widths[logits] != lw:  # never connect streams of different widths (Verilator would only warn)
        raise DqhwError(f"internal: the logits stream is {widths[logits]} bits wide, the design describes {lw}")
    wires = "".join(f"    wire [{widths[n] - 1}:0] {n}_tdata; wire {n}_tvalid; wire {n}_tready;\n"
                    for n in sorted(widths, key=lambda n: int(n[1:])))
    peaks = "".join(f"    wire [{max(1, int(s.fifo_depth).bit_length()) - 1}:0] {s.name}_peak;\n"
                    for s in stages if s.kind == "fifo")
    instances = "".join(_instance(s, i) + "\n" for i, s in enumerate(stages) if i != label_idx)
    if label_idx is not None:  # LabelSelect sits behind a fork: the logits also leave on m_axis_logits
        label_ports = render(TEMPLATES / "dqhw_accel_label_ports.v.in", label_msb=d.label_width - 1)
        outputs = render(TEMPLATES / "dqhw_accel_label_out.v.in", logits_msb=lw - 1, logits_width=lw, logits=logits,
                         last=last, label_select=_instance(stages[label_idx], label_idx, rename={logits: "ls"}))
    else:
        label_ports, outputs = "", render(TEMPLATES / "dqhw_accel_logits_out.v.in", last=last)
    nb = d.logits_beats_per_frame
    cw = max(1, (nb - 1).bit_length())
    tlast = (render(TEMPLATES / "dqhw_accel_tlast_count.v.in", cw=cw, cw_msb=cw - 1, last_beat=nb - 1) if nb > 1
             else render(TEMPLATES / "dqhw_accel_tlast_one.v.in"))
    return render(TEMPLATES / "dqhw_accel.v.in", graph_sha=d.graph_sha, in_shape=d.in_shape,
                  in_beats=d.in_beats_per_frame, label_bits=d.label_bits, num_classes=d.num_classes,
                  logits_elem_bits=d.logits_elem_bits, logits_per_beat=d.logits_per_beat, in_msb=d.in_width - 1,
                  label_ports=label_ports, logits_msb=lw - 1, wires=wires, peaks=peaks, instances=instances,
                  outputs=outputs, tlast=tlast)
