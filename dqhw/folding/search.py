"""dqhw's folding search: the fastest balanced design that fits the board's resource budget.

finn's SetFolding raises each layer's parallelism on its own until a target is met, caps weight
width per PE, and leaves a pipeline whose layers run at very different rates (full-width CNV:
conv1 at 14,112 cycles, conv5 at 24,576, 152 % of the board's LUTs). dqhw instead searches the
frame interval T (cycles per frame):

- The graph is cut into *units* folded together: an MVAU with the sliding-window generator that
  feeds it (SWG SIMD = min(MVAU SIMD, channels), and one divides the other), a depthwise window
  generator with its max pool (same lanes), a standalone thresholding, padding or label select.
- For a given T every unit takes its cheapest choice (PE, SIMD, weight ROM in block RAM or LUTs)
  whose cycles per frame are <= T: every layer runs just fast enough, none wastes logic.
- Streams between units keep integer element ratios (no fractional width converter, whose RTL runs
  at about half rate): a consumer whose input width has no integer ratio with its producer's output
  moves to the cheapest compatible choice, or the producer does.
- T is binary-searched over every cycle count a choice can give; the design fits when the resource
  model (dqhw.estimate for dqhw's modules, finn's estimators for finn's RTL layers) plus a reserve
  for FIFOs and width converters stays within the budget (default: LUT <= 85 %, BRAM18 <= 90 %,
  DSP <= 90 % of the board). The FIFOs' real cost is only known after sizing; the build checks the
  whole design again then (dqhw.flow.steps.step_check_fit).

With --target-fps the same search takes T = clock / fps (the cheapest balanced design reaching it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dqhw import estimate
from dqhw.errors import DqhwError
from dqhw.layers import LAYERS

# share of the board kept free for FIFOs and width converters during the search (checked after sizing)
FIFO_RESERVE = {"lut": 0.05, "bram18": 0.05}


@dataclass(frozen=True)
class Budget:
    """Resource budget in percent of the board."""
    lut: float = 85.0
    bram: float = 90.0
    dsp: float = 90.0

    def limits(self, board) -> estimate.Resources:
        # LUTs in the resource model's units (xc7 LUT6; an ECP5 board converts its LUT4s, dqhw.boards)
        return estimate.Resources(lut=int(board.model_lut * self.lut / 100), ff=board.ff,
                                  bram18=int(board.bram18 * self.bram / 100), dsp=int(board.dsp * self.dsp / 100))

    def describe(self) -> str:
        return f"LUT <= {self.lut:g} %, BRAM18 <= {self.bram:g} %, DSP <= {self.dsp:g} %"


# finn's width converter (vpc.sv) makes Verilator 5.48 fail with an internal error once the wider side
# holds more than 256 units of gcd(in, out) bits (measured: 1 -> 256 bits builds, 1 -> 257 not), and
# LFC W1A2 with two converters at exactly 256 (8 -> 2048, 2 -> 512 bits) deadlocked in simulation:
# dqhw stays at 128
DWC_MAX_RATIO = 128


@dataclass(frozen=True)
class Stream:
    bits: int  # TDATA bits, padded to whole bytes
    raw: int  # payload bits (elements x element bits): what finn's width converter is built for
    frame: int = 0  # payload bits per frame on this stream (0: unknown)

    def links(self, consumer: Stream) -> bool:
        """A producer stream and a consumer stream can meet through finn's RTL width converter:
        integer ratio of the padded widths, a payload ratio vpc.sv builds in Verilator, and whole
        converter vectors per frame: dwc_axi.sv converts in vectors of IBITS x OBITS bits, so a frame
        that is not a multiple of that stays inside the converter until later frames push it out (LFC
        W1A2: 16 -> 2048 bits on 2,048-bit frames deadlocked at the end of a run)."""
        if self.raw == consumer.raw:
            return True
        wide, narrow = max(self.raw, consumer.raw), min(self.raw, consumer.raw)
        frame = self.frame or consumer.frame
        whole = frame == 0 or frame % (self.raw * consumer.raw) == 0
        return _ratio_ok(self.bits, consumer.bits) and wide // math.gcd(wide, narrow) <= DWC_MAX_RATIO and whole


def stream(elems: int, bits: int, frame_elems: int = 0) -> Stream:
    return Stream(((elems * bits + 7) // 8) * 8, elems * bits, frame_elems * bits)


def _frame_elems(model, tensor: str) -> int:
    return int(np.prod(model.get_tensor_shape(tensor)[1:]))


@dataclass
class Choice:
    attrs: dict  # node name -> {attribute: value}
    cycles: int
    cost: estimate.Resources
    in_elems: Stream  # the stream entering the unit
    out_elems: Stream  # the stream leaving it
    lanes: int  # parallelism (tie-break: fewer lanes)


@dataclass
class Unit:
    name: str
    nodes: list[str]
    choices: list[Choice] = field(default_factory=list)
    in_bits: int = 8  # element bits of the stream entering / leaving the unit
    out_bits: int = 8
    # index of the unit whose output stream this unit's input is (through nodes nobody folds), None
    # when that stream starts at the graph input or at a residual node (fork, add, global pooling:
    # PE = 1, so any lane count meets it at an integer width ratio). In a chain: the previous unit.
    producer: int | None = None

    def best(self, t: int, weights: tuple[float, float, float], limits: estimate.Resources,
             in_ok=None, out_ok=None) -> Choice | None:
        ok = [c for c in self.choices if c.cycles <= t and (in_ok is None or in_ok(c.in_elems))
              and (out_ok is None or out_ok(c.out_elems))]
        if not ok:
            return None
        return min(ok, key=lambda c: (_score(c.cost, weights, limits), c.lanes, c.cycles))


def _score(r: estimate.Resources, weights, limits: estimate.Resources) -> float:
    wl, wb, wd = weights
    return wl * r.lut / max(limits.lut, 1) + wb * r.bram18 / max(limits.bram18, 1) + wd * r.dsp / max(limits.dsp, 1)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _ratio_ok(a: int, b: int) -> bool:
    return a % b == 0 or b % a == 0


def _bits(dt) -> int:
    return 1 if dt.name in ("BIPOLAR", "BINARY") else int(dt.bitwidth())


# --------------------------------------------------------------------------------------------------
# units and their choices
# --------------------------------------------------------------------------------------------------
def _finn_cost(inst, part: str) -> estimate.Resources:
    def fig(fn) -> int:
        try:
            return int(fn(part))
        except Exception:  # noqa: BLE001  (finn's estimators raise many types)
            return 0
    return estimate.Resources(lut=fig(inst.lut_estimation), bram18=fig(inst.bram_estimation),
                              dsp=fig(inst.dsp_estimation))


def _with(inst, attrs: dict, fn):
    """fn() evaluated with the node attributes set to attrs (restored afterwards)."""
    old = {k: inst.get_nodeattr(k) for k in attrs}
    for k, v in attrs.items():
        inst.set_nodeattr(k, v)
    try:
        return fn()
    finally:
        for k, v in old.items():
            inst.set_nodeattr(k, v)


def mvau_widths(model, node) -> dict:
    """What dqhw_mvau will be built with: element widths, the exact accumulator width, thresholds."""
    from qonnx.core.datatype import DataType
    from qonnx.custom_op.registry import getCustomOp

    from dqhw import contract

    inst = getCustomOp(node)
    idt = model.get_tensor_datatype(node.input[0])
    w = np.rint(np.asarray(model.get_initializer(node.input[1]))).astype(np.int64)
    xnor = bool(inst.get_nodeattr("binaryXnorMode")) or idt.name == "BIPOLAR"
    if inst.get_nodeattr("binaryXnorMode"):
        w = 2 * w - 1
    bipolar_w = bool(np.isin(w, (-1, 1)).all() and model.get_tensor_datatype(node.input[1]).name == "BIPOLAR")
    w_bits = 1 if (xnor or bipolar_w) else max(2, contract.signed_bits(int(w.min()), int(w.max())))
    in_bits = _bits(idt)
    lo, hi = contract.mvau_acc_range(w.T, in_bits, bool(idt.signed()) and not xnor, xnor)
    out_bits, n_thr = None, 0
    if not inst.get_nodeattr("noActivation"):
        odt = DataType[inst.get_nodeattr("outputDataType")]
        out_bits = _bits(odt)
        t = model.get_initializer(node.input[2])
        n_thr = int(np.asarray(t).shape[-1]) if t is not None else (1 << out_bits) - 1
        acc_bits = contract.signed_bits(lo, hi + 1)
    else:
        acc_bits = contract.signed_bits(lo, hi)
    return {"in_bits": in_bits, "w_bits": w_bits, "acc_bits": acc_bits, "out_bits": out_bits, "n_thresh": n_thr}


def _mvau_unit(model, node, swg_node, part: str) -> Unit:
    from qonnx.custom_op.registry import getCustomOp

    inst = getCustomOp(node)
    mw, mh = int(inst.get_nodeattr("MW")), int(inst.get_nodeattr("MH"))
    pixels = int(np.prod(inst.get_nodeattr("numInputVectors")))
    wd = mvau_widths(model, node)
    unit = Unit(node.name, [node.name] + ([swg_node.name] if swg_node is not None else []),
                in_bits=_bits(model.get_tensor_datatype((swg_node or node).input[0])),
                out_bits=_bits(model.get_tensor_datatype(node.output[0])))
    swg = getCustomOp(swg_node) if swg_node is not None else None
    c = int(swg.get_nodeattr("IFMChannels")) if swg is not None else None
    swg_cache: dict[int, tuple[int, estimate.Resources]] = {}

    def swg_figures(simd: int):
        if simd not in swg_cache:
            swg_cache[simd] = _with(swg, {"SIMD": simd}, lambda: (int(swg.get_exp_cycles()), _finn_cost(swg, part)))
        return swg_cache[simd]

    # stream widths as the graph's tensors say (what the neighbours see; the cost model uses wd)
    a_bits = _bits(model.get_tensor_datatype((swg_node or node).input[0]))
    o_bits = _bits(model.get_tensor_datatype(node.output[0]))
    f_in = _frame_elems(model, (swg_node or node).input[0])
    f_out = _frame_elems(model, node.output[0])
    for simd in _divisors(mw):
        if swg is not None and not (_ratio_ok(simd, c) and stream(min(simd, c), a_bits).links(stream(simd, a_bits))):
            continue
        for pe in _divisors(mh):
            cycles = pixels * (mh // pe) * (mw // simd)
            wmem = (mh // pe) * (mw // simd)
            styles = (True, False) if wmem > 1 else (False,)
            for block in styles:
                cost = estimate.mvau(pe, simd, mw, mh, wd["in_bits"], wd["w_bits"], wd["acc_bits"], wd["out_bits"],
                                     wd["n_thresh"], weight_rom_block=block)
                attrs = {node.name: {"PE": pe, "SIMD": simd, "ram_style": "block" if block else "distributed"}}
                in_elems = stream(simd, a_bits, f_in)
                if swg is not None:
                    s_swg = min(simd, c)
                    s_cycles, s_cost = swg_figures(s_swg)
                    cycles = max(cycles, s_cycles)
                    cost = cost + s_cost
                    attrs[swg_node.name] = {"SIMD": s_swg}
                    in_elems = stream(s_swg, a_bits, f_in)
                unit.choices.append(Choice(attrs, cycles, cost, in_elems, stream(pe, o_bits, f_out), pe * simd))
    return unit


def _simple_unit(model, nodes: list, attr: str, channels: int, part: str, own_cost=None) -> Unit:
    """Units whose nodes all take the same lane count (a divisor of `channels`) in attribute `attr`
    (depthwise SWG: SIMD, pool/thresholding/label select: PE, padding: SIMD)."""
    from qonnx.custom_op.registry import getCustomOp

    insts = [(n, getCustomOp(n)) for n in nodes]
    unit = Unit(nodes[-1].name, [n.name for n in nodes], in_bits=_bits(model.get_tensor_datatype(nodes[0].input[0])),
                out_bits=_bits(model.get_tensor_datatype(nodes[-1].output[0])))
    f_in, f_out = _frame_elems(model, nodes[0].input[0]), _frame_elems(model, nodes[-1].output[0])
    for lanes in _divisors(channels):
        cycles, cost, attrs = 0, estimate.Resources(), {}
        for n, inst in insts:
            key = "SIMD" if n.op_type.startswith(("ConvolutionInputGenerator", "FMPadding")) else attr
            attrs[n.name] = {key: lanes}
            c = _with(inst, {key: lanes}, lambda inst=inst: int(inst.get_exp_cycles()))
            cycles = max(cycles, c)
            if own_cost is not None and n is nodes[-1]:
                cost = cost + own_cost(lanes)
            else:
                cost = cost + _with(inst, {key: lanes}, lambda inst=inst: _finn_cost(inst, part))
        out = 1 if nodes[-1].op_type.startswith("LabelSelect") else lanes
        unit.choices.append(Choice(attrs, cycles, cost, stream(lanes, unit.in_bits, f_in),
                                   stream(out, unit.out_bits, f_out), lanes))
    return unit


def build_units(model, part: str) -> tuple[list[Unit], estimate.Resources, int]:
    """The graph's units in stream order, plus the fixed cost and cycles of nodes nobody folds."""
    from qonnx.custom_op.registry import getCustomOp

    taken: set[str] = set()
    units: list[Unit] = []
    fixed = estimate.Resources()
    fixed_cycles = 0
    for node in list(model.graph.node):
        if node.name in taken:
            continue
        op = node.op_type
        inst = getCustomOp(node)
        nxt = model.find_consumer(node.output[0])
        if op.startswith("ConvolutionInputGenerator") and nxt is not None:
            if not inst.get_nodeattr("depthwise") and nxt.op_type.startswith("MVAU"):
                units.append(_mvau_unit(model, nxt, node, part))
                taken.update((node.name, nxt.name))
                continue
            if inst.get_nodeattr("depthwise") and nxt.op_type.startswith("Pool"):
                pool = getCustomOp(nxt)
                bits = _bits(model.get_tensor_datatype(nxt.input[0]))
                units.append(_simple_unit(model, [node, nxt], "PE", int(pool.get_nodeattr("Channels")), part,
                                          own_cost=lambda pe, bits=bits: estimate.maxpool(pe, bits)))
                taken.update((node.name, nxt.name))
                continue
        if op.startswith("MVAU"):
            units.append(_mvau_unit(model, node, None, part))
        elif op.startswith("Thresholding"):
            units.append(_simple_unit(model, [node], "PE", int(inst.get_nodeattr("NumChannels")), part))
        elif op.startswith("FMPadding"):
            units.append(_simple_unit(model, [node], "SIMD", int(inst.get_nodeattr("NumChannels")), part))
        elif op.startswith("LabelSelect"):
            bits = _bits(model.get_tensor_datatype(node.input[0]))
            units.append(_simple_unit(model, [node], "PE", int(inst.get_nodeattr("Labels")), part,
                                      own_cost=lambda pe, bits=bits: estimate.label_select(pe, bits)))
        elif op.startswith("Pool"):
            bits = _bits(model.get_tensor_datatype(node.input[0]))
            units.append(_simple_unit(model, [node], "PE", int(inst.get_nodeattr("Channels")), part,
                                      own_cost=lambda pe, bits=bits: estimate.maxpool(pe, bits)))
        else:  # not folded by dqhw: keep finn's attributes, count its cost and cycles
            fixed = fixed + _finn_cost(inst, part)
            try:
                fixed_cycles = max(fixed_cycles, int(inst.get_exp_cycles()))
            except Exception:  # noqa: BLE001
                pass
        taken.add(node.name)
    _link_units(model, units)
    return units, fixed, fixed_cycles


# the residual layers and the finn nodes they replace (dqhw.layers), matched as prefixes
RESIDUAL_NODES = tuple(n for t in LAYERS if t.residual for n in (t.op_type, *t.replaces))


def _link_units(model, units: list[Unit]) -> None:
    """Unit.producer for every unit: walk up from its first node's input through nodes nobody folds."""
    owner = {name: k for k, u in enumerate(units) for name in u.nodes}
    by_name = {n.name: n for n in model.graph.node}
    for u in units:
        first = next(by_name[n] for n in u.nodes if not any(i in by_name and by_name[i].output[0] == by_name[n].input[0]
                                                               for i in u.nodes))
        node = model.find_producer(first.input[0])
        while node is not None and node.name not in owner and not node.op_type.startswith(RESIDUAL_NODES):
            node = model.find_producer(node.input[0])
        u.producer = owner.get(node.name) if node is not None else None


# --------------------------------------------------------------------------------------------------
# the search
# --------------------------------------------------------------------------------------------------
WEIGHTINGS = ((1.0, 1.0, 1.0), (1.0, 4.0, 1.0), (4.0, 1.0, 1.0), (1.0, 16.0, 1.0), (16.0, 1.0, 1.0))


@dataclass
class Plan:
    interval: int  # cycles per frame (the slowest unit)
    choices: list[Choice]
    total: estimate.Resources  # units + fixed nodes + reserve
    fits: bool
    limits: estimate.Resources


def _assign(units: list[Unit], t: int, weights, limits) -> list[Choice] | None:
    picked: list[Choice] = []
    for unit in units:
        c = unit.best(t, weights, limits)
        if c is None:
            return None
        p = unit.producer
        if p is not None and not picked[p].out_elems.links(c.in_elems):
            prev = picked[p]
            fixed_c = unit.best(t, weights, limits, in_ok=lambda e, p=prev.out_elems: p.links(e))
            if fixed_c is not None:
                c = fixed_c
            else:  # move the producer instead (its own input must stay compatible)
                pp = units[p].producer
                before = picked[pp].out_elems if pp is not None else None
                p2 = units[p].best(t, weights, limits,
                                   in_ok=(None if before is None else (lambda e, b=before: b.links(e))),
                                   out_ok=lambda e, i=c.in_elems: e.links(i))
                if p2 is None:
                    return None
                picked[p] = p2
        picked.append(c)
    return picked


def _fits(total: estimate.Resources, limits: estimate.Resources) -> bool:
    return total.lut <= limits.lut and total.bram18 <= limits.bram18 and total.dsp <= limits.dsp


def _rebalance(units: list[Unit], picked: list[Choice], t: int, base: estimate.Resources,
               limits: estimate.Resources, max_moves: int = 200) -> list[Choice]:
    """Trade one resource for another: while some resource is over its limit, make the move (one
    unit to another choice within t, stream ratios kept) that removes the most overflow per share of
    the other resources' headroom it uses (e.g. a weight ROM from block RAM into LUTs)."""
    keys = ("lut", "bram18", "dsp")
    picked = list(picked)
    consumer = {u.producer: k for k, u in enumerate(units) if u.producer is not None}
    for _ in range(max_moves):
        total = base
        for c in picked:
            total = total + c.cost
        if _fits(total, limits):
            break
        over = {k for k in keys if getattr(total, k) > getattr(limits, k)}
        best, best_ratio = None, 0.0
        fixing, fixing_cost = None, None  # a single move after which everything fits: the cheapest one
        for k, unit in enumerate(units):
            prev_out = picked[unit.producer].out_elems if unit.producer is not None else None
            next_in = picked[consumer[k]].in_elems if k in consumer else None
            cur = picked[k]
            for c in unit.choices:
                if c is cur or c.cycles > t:
                    continue
                if (prev_out is not None and not prev_out.links(c.in_elems)) or \
                        (next_in is not None and not c.out_elems.links(next_in)):
                    continue
                gain = sum((getattr(cur.cost, r) - getattr(c.cost, r)) / max(getattr(limits, r), 1) for r in over)
                if gain <= 0:
                    continue
                loss, ok = 0.0, True
                for r in keys:
                    if r in over:
                        continue
                    delta = getattr(c.cost, r) - getattr(cur.cost, r)
                    room = getattr(limits, r) - getattr(total, r)
                    if delta > room:
                        ok = False
                        break
                    loss += max(delta, 0) / max(room, 1)
                if not ok:
                    continue
                after = total + c.cost + estimate.Resources(-cur.cost.lut, -cur.cost.ff, -cur.cost.bram18,
                                                            -cur.cost.dsp)
                if _fits(after, limits):
                    spent = _score(after, (1.0, 1.0, 1.0), limits)
                    if fixing_cost is None or spent < fixing_cost:
                        fixing, fixing_cost = (k, c), spent
                if gain / (loss + 1e-6) > best_ratio:
                    best, best_ratio = (k, c), gain / (loss + 1e-6)
        move = fixing or best
        if move is None:
            break
        picked[move[0]] = move[1]
    return picked


def converters(units: list[Unit], picked: list[Choice]) -> estimate.Resources:
    """The width converters finn's InsertDWC will put between units whose stream widths differ."""
    total = estimate.Resources()
    for k in range(1, len(picked)):
        if units[k].producer is None:
            continue
        a, b = picked[units[k].producer].out_elems, picked[k].in_elems
        if a.raw != b.raw:
            total = total + estimate.dwc(a.raw, b.raw)
    return total


def _plan(units, fixed, t, limits, reserve) -> Plan | None:
    best = None
    for weights in WEIGHTINGS:
        picked = _assign(units, t, weights, limits)
        if picked is None:
            continue
        picked = _rebalance(units, picked, t, fixed + reserve, limits)
        total = fixed + reserve + converters(units, picked)
        for c in picked:
            total = total + c.cost
        fits = _fits(total, limits)
        interval = max(c.cycles for c in picked) if picked else t
        plan = Plan(interval, picked, total, fits, limits)
        if fits:
            return plan
        if best is None:
            best = plan
    return best


def default_reserve(board) -> estimate.Resources:
    """What the search keeps free for FIFOs and width converters unless told otherwise."""
    return estimate.Resources(lut=int(board.model_lut * FIFO_RESERVE["lut"]),
                              bram18=int(board.bram18 * FIFO_RESERVE["bram18"]))


def search(model, board, budget: Budget, clock_ns: float, target_cycles: int | None = None,
           reserve: estimate.Resources | None = None):
    """(units, Plan): the fastest plan that fits, or with target_cycles the cheapest plan reaching it
    (fits may then be False: the caller decides). `reserve`: what to keep free for FIFOs and width
    converters (default FIFO_RESERVE of the board; the build passes the measured cost on a refold)."""
    units, fixed, fixed_cycles = build_units(model, board.finn_part)
    limits = budget.limits(board)
    if reserve is None:
        reserve = default_reserve(board)
    floor = max([min(c.cycles for c in u.choices) for u in units if u.choices] + [fixed_cycles, 1])
    if target_cycles is not None:
        t = max(int(target_cycles), floor)
        plan = _plan(units, fixed, t, limits, reserve)
        if plan is None:
            raise DqhwError(f"folding: no choice of PE/SIMD reaches {target_cycles} cycles per frame")
        return units, plan
    candidates = sorted({c.cycles for u in units for c in u.choices if c.cycles >= floor} | {floor})
    lo, hi = 0, len(candidates) - 1
    best = _plan(units, fixed, candidates[hi], limits, reserve)
    if best is None or not best.fits:
        return units, best  # even the slowest design does not fit
    while lo < hi:  # smallest interval that fits (resources fall as the interval grows)
        mid = (lo + hi) // 2
        plan = _plan(units, fixed, candidates[mid], limits, reserve)
        if plan is not None and plan.fits:
            best, hi = plan, mid
        else:
            lo = mid + 1
    return units, best


def apply_plan(model, plan: Plan):
    from qonnx.custom_op.registry import getCustomOp

    by_name = {n.name: n for n in model.graph.node}
    for choice in plan.choices:
        for name, attrs in choice.attrs.items():
            inst = getCustomOp(by_name[name])
            for k, v in attrs.items():
                inst.set_nodeattr(k, v)
    return model


def describe(plan: Plan, board, clock_ns: float) -> str:
    fps = 1e9 / clock_ns / plan.interval
    t = plan.total
    return (f"{plan.interval} cycles/frame ({fps:,.0f} FPS at {1000 / clock_ns:g} MHz), estimated "
            f"{t.lut:,} LUT ({100 * t.lut / board.model_lut:.0f} %), {t.bram18} BRAM18 "
            f"({100 * t.bram18 / board.bram18:.0f} %), {t.dsp} DSP incl. the FIFO reserve")


def fps_to_cycles(fps: float, clock_ns: float) -> int:
    return max(1, math.floor(1e9 / clock_ns / fps))


# --------------------------------------------------------------------------------------------------
# FIFO storage: LUT-RAM or block RAM, chosen for the budget once the depths are known
# --------------------------------------------------------------------------------------------------
def choose_fifo_storage(fifos: dict[str, tuple[int, int]], base: estimate.Resources,
                        limits: estimate.Resources) -> dict[str, str]:
    """{fifo: "auto" | "block" | "distributed"} for fifos {name: (depth, width)} on top of the rest of
    the design (`base`). Every FIFO starts as dqhw_fifo's default (block RAM from 256 entries); while
    LUTs are over the limit the FIFO that saves the most LUTs per BRAM18 moves into block RAM (BRAM
    permitting), while BRAM is over the one that frees the most BRAM18 per LUT moves into LUT-RAM."""
    styles = {k: "auto" for k in fifos}

    def cost(name: str, style: str) -> estimate.Resources:
        depth, width = fifos[name]
        return estimate.fifo(depth, width, style)

    def total() -> estimate.Resources:
        t = base
        for k, s in styles.items():
            t = t + cost(k, s)
        return t

    for _ in range(2 * len(fifos) + 1):
        t = total()
        if t.lut > limits.lut:  # free LUTs, spend BRAM
            style, freed, spent, floor = "block", "lut", "bram18", 0.5
        elif t.bram18 > limits.bram18:  # free BRAM, spend LUTs
            style, freed, spent, floor = "distributed", "bram18", "lut", 1
        else:
            break
        moves = []
        for k in fifos:
            new, old = cost(k, style), cost(k, styles[k])
            gain = getattr(old, freed) - getattr(new, freed)
            spend = getattr(new, spent) - getattr(old, spent)
            if gain > 0 and getattr(t, spent) + spend <= getattr(limits, spent):
                moves.append((gain / max(spend, floor), k, style))
        if not moves:
            break
        _, k, chosen = max(moves)
        styles[k] = chosen
    return styles
