"""cocotb protocol tests of the whole stitched accelerator `dqhw_accel` (toplevel itself), with the
per-cycle AXI-Stream drivers of sim/axis.py.

Configuration (written by dqhw/simulate/protocol.py): DQHW_PROTOCOL_CFG = path of a JSON file with
  frames: [{"in": [input beats], "logits": [logits beats], "label": class index}, ...] (golden),
  has_label, logits_beats_per_frame, logits_mask, label_mask, budget_cycles (a timeout per phase),
  seed, stall (probability that s_axis TVALID / each output TREADY is withheld in a cycle),
  reset_input_beats (input beats sent before the reset of test_reset_mid_frame: whole frames and
  half of one), reset_after_logits (logits beats out before the reset), reset_cycles,
  result (path of a JSON file each test adds its numbers to).

- test_random_stalls: every frame with random stalls on s_axis TVALID and, independently, on both
  output TREADYs; the outputs must equal the golden beats exactly (nothing lost, duplicated or
  reordered), TLAST on every m_axis beat and on the last m_axis_logits beat of each frame only,
  the AXI-Stream master rules held on both outputs (axis.AxisSink), and nothing more afterwards.
- test_reset_mid_frame: frames go in with stalls, rst_n is pulled low for a few cycles while a
  frame is half sent, earlier frames are inside the pipeline and one frame's logits are half out
  (what came out before must be a correct prefix of the golden outputs); afterwards complete frames are sent
  again and what comes out after the reset must be exactly their golden outputs (nothing from before
  the reset leaks out, nothing is lost).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock
from cocotb.triggers import ReadOnly, RisingEdge


def _compare(got: list[int], want: list[int], what: str, phase: str) -> None:
    try:
        compare_streams(got, want, what)
    except AssertionError as e:
        raise AssertionError(f"{phase}: {e}") from None


def _cfg() -> dict:
    with open(os.environ["DQHW_PROTOCOL_CFG"]) as f:
        return json.load(f)


def _record(cfg: dict, name: str, info: dict) -> None:
    path = cfg.get("result")
    if not path:
        return
    data = {}
    if os.path.isfile(path):
        with open(path) as f:
            data = json.load(f)
    data[name] = info
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


class TlastMonitor:
    """TLAST of every beat transferred on `<prefix>` (sampled in ReadOnly, like AxisSink)."""

    def __init__(self, dut, prefix: str):
        self.clk = dut.clk
        self.tvalid = getattr(dut, f"{prefix}_tvalid")
        self.tready = getattr(dut, f"{prefix}_tready")
        self.tlast = getattr(dut, f"{prefix}_tlast")
        self.values: list[int] = []
        self._task = cocotb.start_soon(self._run())

    async def _run(self) -> None:
        while True:
            await RisingEdge(self.clk)
            await ReadOnly()
            if self.tvalid.value == 1 and self.tready.value == 1:
                self.values.append(int(self.tlast.value))

    def kill(self) -> None:
        self._task.cancel()


class Harness:
    """s_axis source + output sinks (+ TLAST monitors) with independent random stalls."""

    def __init__(self, dut, cfg: dict, seed: int):
        p = 1.0 - float(cfg["stall"])
        self.cfg = cfg
        self.src = AxisSource(dut, "s_axis", valid_prob=p, rng=random.Random(seed))
        self.logits = AxisSink(dut, "m_axis_logits", ready_prob=p, rng=random.Random(seed + 1))
        self.logits_last = TlastMonitor(dut, "m_axis_logits")
        self.labels = self.labels_last = None
        if cfg["has_label"]:
            self.labels = AxisSink(dut, "m_axis", ready_prob=p, rng=random.Random(seed + 2))
            self.labels_last = TlastMonitor(dut, "m_axis")

    def kill(self) -> None:
        for part in (self.src, self.logits, self.logits_last, self.labels, self.labels_last):
            if part is not None:
                part.kill()

    def send(self, frames: list[dict]) -> None:
        for fr in frames:
            self.src.send(fr["in"])

    async def wait_outputs(self, frames: list[dict], budget: int) -> None:
        await self.logits.wait_for(sum(len(fr["logits"]) for fr in frames), budget)
        if self.labels is not None:
            await self.labels.wait_for(len(frames), budget)

    def check(self, frames: list[dict], what: str) -> dict:
        """Outputs exactly the golden beats of `frames`, TLAST right, AXI-Stream rules kept."""
        cfg = self.cfg
        errors = list(self.logits.errors) + (list(self.labels.errors) if self.labels is not None else [])
        assert not errors, f"{what}: AXI-Stream protocol errors on the outputs: {errors[:5]}"
        sent = sum(len(fr["in"]) for fr in frames)
        assert len(self.src.sent) == sent, f"{what}: {len(self.src.sent)} of {sent} input beats accepted"
        want_logits = [b for fr in frames for b in fr["logits"]]
        got_logits = [b & cfg["logits_mask"] for b in self.logits.received]
        _compare(got_logits, want_logits, "m_axis_logits beat", what)
        lb = cfg["logits_beats_per_frame"]
        want_last = [int(k % lb == lb - 1) for k in range(len(want_logits))]
        if self.logits_last.values != want_last:
            k = next((i for i, (a, b) in enumerate(zip(self.logits_last.values, want_last)) if a != b),
                     min(len(want_last), len(self.logits_last.values)))
            raise AssertionError(f"{what}: m_axis_logits TLAST wrong at beat {k} (expected on beat {lb - 1} "
                                 f"of each frame of {lb} beats)")
        if self.labels is not None:
            got = [b & cfg["label_mask"] for b in self.labels.received]
            _compare(got, [fr["label"] for fr in frames], "m_axis (class) beat", what)
            assert self.labels_last.values == [1] * len(frames), f"{what}: m_axis TLAST {self.labels_last.values}"
        return {"input_beats": sent, "logits_beats": len(got_logits),
                "label_beats": len(self.labels.received) if self.labels is not None else 0}


@cocotb.test()
async def test_random_stalls(dut):
    """All frames, random stalls on s_axis TVALID and on each output's TREADY: bit-exact, in order."""
    cfg = _cfg()
    frames = cfg["frames"]
    start_clock(dut.clk)
    h = Harness(dut, cfg, cfg["seed"])
    await reset(dut)
    h.send(frames)
    start = h.src.cycle
    await h.wait_outputs(frames, cfg["budget_cycles"])
    cycles = h.logits.cycle - start
    await settle(dut.clk, cfg["settle_cycles"])  # duplicated or extra beats would arrive here
    info = h.check(frames, "random stalls")
    h.kill()
    info.update(frames=len(frames), cycles=cycles, stall=cfg["stall"])
    _record(cfg, "random_stalls", info)
    dut._log.info("random stalls: %d frames bit-exact in %d cycles", len(frames), cycles)


@cocotb.test()
async def test_reset_mid_frame(dut):
    """rst_n low for a few cycles in the middle of a frame; afterwards the outputs are exactly the
    golden outputs of the frames sent after the reset."""
    cfg = _cfg()
    frames = cfg["frames"]
    start_clock(dut.clk)
    dut.rst_n.value = 1
    h = Harness(dut, cfg, cfg["seed"] + 100)
    await reset(dut)
    pre_in = [b for fr in frames for b in fr["in"]][: cfg["reset_input_beats"]]
    h.src.send(pre_in)
    want_logits = int(cfg["reset_after_logits"])
    for _ in range(cfg["budget_cycles"]):
        if len(h.src.sent) == len(pre_in) and len(h.logits.received) >= want_logits:
            break
        await RisingEdge(dut.clk)
    else:
        raise AssertionError(f"reset point not reached: {len(h.src.sent)} of {len(pre_in)} input beats taken, "
                             f"{len(h.logits.received)} of {want_logits} logits beats out")
    if not want_logits:
        await settle(dut.clk, 1000)  # let the frames move into the pipeline
    await RisingEdge(dut.clk)
    h.kill()
    # what came out before the reset must be a correct prefix of the golden outputs
    pre_logits = [b & cfg["logits_mask"] for b in h.logits.received]
    want_pre = [b for fr in frames for b in fr["logits"]][: len(pre_logits)]
    _compare(pre_logits, want_pre, "m_axis_logits beat", "before the reset")
    if h.labels is not None:
        pre_labels = [b & cfg["label_mask"] for b in h.labels.received]
        _compare(pre_labels, [fr["label"] for fr in frames][: len(pre_labels)], "m_axis beat", "before the reset")
    pre = {"input_beats": len(h.src.sent), "logits_beats": len(pre_logits),
           "label_beats": len(h.labels.received) if h.labels is not None else 0}
    dut.s_axis_tvalid.value = 0
    dut.m_axis_logits_tready.value = 1  # the DUT may show anything while in reset: nothing is recorded
    if cfg["has_label"]:
        dut.m_axis_tready.value = 1
    dut.rst_n.value = 0
    for _ in range(int(cfg["reset_cycles"])):
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    post_frames = frames[: cfg["frames_after_reset"]]
    h2 = Harness(dut, cfg, cfg["seed"] + 200)
    h2.send(post_frames)
    start = h2.src.cycle
    await h2.wait_outputs(post_frames, cfg["budget_cycles"])
    cycles = h2.logits.cycle - start
    await settle(dut.clk, cfg["settle_cycles"])
    info = h2.check(post_frames, "after the reset")
    h2.kill()
    _record(cfg, "reset_mid_frame", {"before_reset": pre, "reset_cycles": cfg["reset_cycles"],
                                     "after_reset": info | {"frames": len(post_frames), "cycles": cycles}})
    dut._log.info("reset after %d input beats (%d logits beats out); %d frames after it bit-exact",
                  pre["input_beats"], pre["logits_beats"], len(post_frames))
