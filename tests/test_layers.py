"""dqhw.layers: every registered layer type resolves to its node class, names an rtl/ module that
exists, and no finn op type is replaced by two dqhw types."""

from __future__ import annotations

from dqhw.layers import LAYERS, replacements, verilog_modules
from dqhw.resources import hw_dir


def test_every_layer_type_is_complete():
    import dqhw.customop as cops

    assert list(cops.custom_op) == [t.op_type for t in LAYERS]
    for t in LAYERS:
        cls = cops.custom_op[t.op_type]
        assert cls.__name__ == t.op_type and callable(getattr(cls, "rtl_params", None)), t.op_type
        assert (hw_dir("rtl") / f"{t.verilog}.v").is_file(), t.verilog
    assert len(verilog_modules()) == len(LAYERS)
    finn = [f for t in LAYERS for f in t.replaces]
    assert len(finn) == len(set(finn)) == len(replacements())
