"""DqhwMVAU: the matrix-vector-activation unit dqhw implements in rtl/dqhw_mvau.v.

Replaces finn's MVAU / MVAU_hls / MVAU_rtl. Same inputs as finn's MVAU: (activations, weights[, thresholds])
with weights stored FINN's way as an (MW, MH) initializer (acc = x @ W, so W_contract = W.T) and
thresholds as an (MH, 2^OUT_BITS - 1) initializer of integers, clipped to the reachable accumulator
range (contract.clip_thresholds) so they fit ACC_BITS. Folded/normal shapes, stream widths and cycles
are FINN's MVAU's (inherited); execution is the exact integer contract, equal to finn's MVAU
execute_node (tests/test_mvau_semantics.py checks it against finn):

    acc[..., o] = sum_i x[..., i] * W[i, o]               (int64, contract.matvec; x unsigned or signed)
    acc[..., o] = #{i : x[..., i] == W[i, o]}              (binaryXnorMode = 1: x and W hold bits {0, 1},
                                                           FINN's BINARY; contract.xnor_popcount)
    out = ActVal + contract.multithreshold(acc, T)         (USE_THRESHOLDS = 1, noActivation = 0;
                                                           BIPOLAR output: 2 * count - 1)
    out = acc                                              (USE_THRESHOLDS = 0, noActivation = 1)

An MVAU with BIPOLAR inputs and BIPOLAR weights but binaryXnorMode = 0 is executed as finn executes
it (the popcount of (x + 1) / 2 against (W + 1) / 2) and is built as XNOR = 1 as well (a BIPOLAR
stream element is the bit (v + 1) / 2).

Extra attributes (the parameters of dqhw_mvau, set by `finalize()`): IN_BITS, IN_SIGNED, W_BITS
(1 = bipolar), XNOR, ACC_BITS, USE_THRESHOLDS, OUT_BITS, NUM_THRESH, ACT_VAL (the output offset in
the stream: FINN's ActVal, 0 for BIPOLAR outputs), WEIGHT_ROM_BLOCK, THRESH_ROM_BLOCK, plus finn_name
(the finn node it replaced) and ACC_MIN / ACC_MAX (the exact reachable accumulator range), and
TREE_LEVELS_PER_STAGE (0: derived by contract.mvau_pipeline, the timing of the RTL, not its results).
"""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU
from qonnx.core.datatype import DataType

from dqhw import contract
from dqhw.customop.common import DqhwNode, element_bits
from dqhw.errors import DqhwError


class DqhwMVAU(DqhwNode, MVAU):
    """finn's MVAU with dqhw's exact integer execution and dqhw_mvau's parameters."""

    RTL_ATTRS = {
        "IN_BITS": ("i", False, 0),
        "IN_SIGNED": ("i", False, 0, {0, 1}),
        "W_BITS": ("i", False, 0),
        "XNOR": ("i", False, 0, {0, 1}),
        "ACC_BITS": ("i", False, 0),
        "USE_THRESHOLDS": ("i", False, 1, {0, 1}),
        "OUT_BITS": ("i", False, 0),
        "NUM_THRESH": ("i", False, 0),
        "ACT_VAL": ("i", False, 0),
        "WEIGHT_ROM_BLOCK": ("i", False, 1, {0, 1}),
        "THRESH_ROM_BLOCK": ("i", False, 0, {0, 1}),
        "ACC_MIN": ("i", False, 0),
        "ACC_MAX": ("i", False, 0),
        # adder-tree levels between two pipeline registers; 0: derived from the widths
        # (contract.mvau_pipeline), rtl_params() always passes the explicit value
        "TREE_LEVELS_PER_STAGE": ("i", False, 0),
    }

    # ----------------------------------------------------------------------------------------------
    # execution
    # ----------------------------------------------------------------------------------------------
    def execute_node(self, context, graph):
        node = self.onnx_node
        mw, mh = self.get_nodeattr("MW"), self.get_nodeattr("MH")
        x = np.asarray(context[node.input[0]])
        lead = x.shape[:-1] if x.shape[-1] == mw else tuple(self.get_normal_input_shape()[:-1])
        x = np.rint(x.reshape(-1, mw)).astype(np.int64)
        w = np.rint(np.asarray(context[node.input[1]])).astype(np.int64)
        if self.get_nodeattr("binaryXnorMode"):
            # bits {0, 1} on both sides (FINN's BINARY); bit 1 means +1
            acc = contract.xnor_popcount(2 * w.T - 1, x)
        elif self._bipolar_pair():
            # finn executes BIPOLAR x BIPOLAR as the XNOR-popcount of the bits (v + 1) / 2
            acc = contract.xnor_popcount(w.T, contract.stream_elements(x, bipolar=True))
        else:
            acc = contract.matvec(w.T, x)
        if self.get_nodeattr("noActivation"):
            out = acc
        else:
            t = np.asarray(context[node.input[2]])
            count = contract.multithreshold(acc, t.reshape(-1, t.shape[-1]))
            out = contract.activation_output(count, int(self.get_nodeattr("ActVal")),
                                             self.get_nodeattr("outputDataType") == "BIPOLAR")
        dtype = np.float32 if np.abs(out).max(initial=0) < (1 << 24) else np.float64
        out = out.astype(dtype).reshape(*lead, mh)
        prev = context.get(node.output[0])
        if prev is not None and np.size(prev) == out.size:
            out = out.reshape(np.shape(prev))  # the graph's output shape, as finn's MVAU does
        context[node.output[0]] = out

    def _bipolar_pair(self) -> bool:
        """BIPOLAR inputs and BIPOLAR weights without binaryXnorMode (finn: a popcount as well)."""
        return (not self.get_nodeattr("binaryXnorMode") and self.get_nodeattr("inputDataType") == "BIPOLAR"
                and self.get_nodeattr("weightDataType") == "BIPOLAR")

    # ----------------------------------------------------------------------------------------------
    # dqhw_mvau parameters
    # ----------------------------------------------------------------------------------------------
    def finalize(self, model) -> None:
        """Check the node fits dqhw_mvau, set the exact accumulator width, clip the thresholds and
        fill in the Verilog parameters. Called once by the replacement pass."""
        node = self.onnx_node
        name = self.display_name()
        contract.MvauFolding(self.get_nodeattr("MH"), self.get_nodeattr("MW"), self.get_nodeattr("PE"),
                             self.get_nodeattr("SIMD")).check(name)
        w = model.get_initializer(node.input[1])
        if w is None:
            raise DqhwError(f"{name}: weights are not a constant initializer")
        w = np.asarray(w)
        if not np.array_equal(w, np.rint(w)):
            raise DqhwError(f"{name}: weights are not integers after streamlining")
        wi = np.rint(w).astype(np.int64)
        idt = model.get_tensor_datatype(node.input[0])
        xnor = bool(self.get_nodeattr("binaryXnorMode"))
        w_tensor_dt = model.get_tensor_datatype(node.input[1]).name
        if xnor:
            # FINN's XNOR-popcount MVAU (ConvertBipolarMatMulToXnorPopcount + InferBinaryMVAU): inputs
            # and weights are bits (BINARY), bit 1 meaning +1
            if idt.name != "BINARY":
                raise DqhwError(f"{name}: binaryXnorMode with a {idt.name} input (expected BINARY bits)")
            if not np.isin(wi, (0, 1)).all():
                raise DqhwError(f"{name}: binaryXnorMode with weights other than bits {{0, 1}}")
            wdt, w_bits, in_signed = DataType["BINARY"], 1, False
            wpm = 2 * wi - 1  # the bipolar weights, contract orientation after .T
        elif idt.name == "BIPOLAR":
            if not (np.isin(wi, (-1, 1)).all() and w_tensor_dt == "BIPOLAR"):
                raise DqhwError(f"{name}: BIPOLAR inputs with {w_tensor_dt} weights are not supported by dqhw "
                                "(only BIPOLAR x BIPOLAR, as XNOR-popcount)")
            wdt, w_bits, in_signed, xnor = DataType["BIPOLAR"], 1, False, True
            wpm = wi
        else:
            if not idt.is_integer() or element_bits(idt) > contract.MAX_ACT_BITS or (
                    idt.signed() and element_bits(idt) < 2):
                raise DqhwError(f"{name}: input {idt.name} is not an unsigned integer of 1..8 bits or a signed "
                                "integer of 2..8 bits (what dqhw_mvau takes)")
            in_signed = bool(idt.signed())
            if np.isin(wi, (-1, 1)).all() and w_tensor_dt == "BIPOLAR":
                wdt, w_bits = DataType["BIPOLAR"], 1
            else:
                w_bits = max(2, contract.signed_bits(int(wi.min()), int(wi.max())))
                wdt = DataType[f"INT{w_bits}"]
            wpm = wi
        if w_bits > 8:
            raise DqhwError(f"{name}: {w_bits}-bit weights; dqhw_mvau takes 1 (bipolar) to 8 bits")
        self.set_nodeattr("inputDataType", idt.name)
        self.set_nodeattr("weightDataType", wdt.name)
        model.set_tensor_datatype(node.input[1], wdt)
        in_bits = element_bits(idt)
        lo, hi = contract.mvau_acc_range(wpm.T, in_bits, in_signed, xnor)
        self.set_nodeattr("ACC_MIN", lo)
        self.set_nodeattr("ACC_MAX", hi)
        use_thr = 0 if self.get_nodeattr("noActivation") else 1
        n_thr, act_val = 1, 0
        if use_thr:
            odt = DataType[self.get_nodeattr("outputDataType")]
            bipolar_out = odt.name == "BIPOLAR"
            finn_act = int(self.get_nodeattr("ActVal"))
            act_val = contract.mvau_act_val(finn_act, bipolar_out)
            t = np.asarray(model.get_initializer(node.input[2]))
            if not np.array_equal(t, np.rint(t)):
                raise DqhwError(f"{name}: thresholds are not integers (run minimize_bit_width first)")
            mh = self.get_nodeattr("MH")
            t = np.broadcast_to(np.rint(t).astype(np.int64), (mh, t.shape[-1]))
            n_thr = int(t.shape[1])
            out_bits = element_bits(odt)
            if not odt.is_integer() or out_bits > contract.MAX_ACT_BITS:
                raise DqhwError(f"{name}: output {odt.name} is not an integer of 1..8 bits")
            if bipolar_out:
                fits = n_thr == 1
            else:
                fits = 1 <= n_thr and odt.allowed(act_val) and odt.allowed(act_val + n_thr)
            if not fits:
                raise DqhwError(f"{name}: {n_thr} thresholds per channel with ActVal {finn_act} give outputs "
                                f"{act_val}..{act_val + n_thr}, beyond {odt.name}")
            t = contract.clip_thresholds(t, lo, hi)
            acc_bits = contract.signed_bits(lo, hi + 1)
            # float32 holds every integer below 2^24 exactly; wider accumulators need float64
            model.set_initializer(node.input[2], t.astype(np.float32 if acc_bits <= 24 else np.float64))
            model.set_tensor_datatype(node.input[2], DataType[f"INT{acc_bits}"])
        else:
            acc_bits = contract.signed_bits(lo, hi)
            odt = DataType[f"INT{acc_bits}"]
            self.set_nodeattr("outputDataType", odt.name)
            model.set_tensor_datatype(node.output[0], odt)
            out_bits = acc_bits
        self.set_nodeattr("accDataType", f"INT{acc_bits}")
        self.set_nodeattr("IN_BITS", in_bits)
        self.set_nodeattr("IN_SIGNED", int(in_signed))
        self.set_nodeattr("W_BITS", w_bits)
        self.set_nodeattr("XNOR", int(xnor))
        self.set_nodeattr("ACC_BITS", acc_bits)
        self.set_nodeattr("USE_THRESHOLDS", use_thr)
        self.set_nodeattr("OUT_BITS", out_bits)
        self.set_nodeattr("NUM_THRESH", n_thr)
        self.set_nodeattr("ACT_VAL", act_val)
        self.set_nodeattr("WEIGHT_ROM_BLOCK", 1 if self._rom_block(self.get_nodeattr("ram_style"),
                                                                    self.calc_wmem()) else 0)
        self.set_nodeattr("THRESH_ROM_BLOCK", 1 if use_thr and self.get_nodeattr("ram_style_thresholds") == "block"
                          else 0)

    @staticmethod
    def _rom_block(style: str, depth: int) -> bool:
        from dqhw.estimate import rom_in_block

        return rom_in_block(style, depth)

    def rtl_params(self) -> dict:
        """Parameters of rtl/dqhw_mvau.v (WEIGHT_FILE / THRESH_FILE are the RTL generator's)."""
        p = {k: int(self.get_nodeattr(k)) for k in ("MW", "MH", "PE", "SIMD", "IN_BITS", "IN_SIGNED", "W_BITS",
                                                      "XNOR", "ACC_BITS", "USE_THRESHOLDS", "OUT_BITS",
                                                      "NUM_THRESH", "ACT_VAL", "WEIGHT_ROM_BLOCK",
                                                      "THRESH_ROM_BLOCK")}
        if not p["USE_THRESHOLDS"]:
            p["NUM_THRESH"] = 1  # unused without thresholds; keeps the Verilog default's 2^OUT_BITS away
        p["TREE_LEVELS_PER_STAGE"] = self.pipeline().tree_levels_per_stage
        return p

    def pipeline(self) -> contract.MvauPipeline:
        """dqhw_mvau's pipeline for this node (register stages, latency, output queue depth)."""
        use_thr = bool(self.get_nodeattr("USE_THRESHOLDS"))
        return contract.mvau_pipeline(
            simd=int(self.get_nodeattr("SIMD")), w_bits=int(self.get_nodeattr("W_BITS")),
            in_bits=int(self.get_nodeattr("IN_BITS")), acc_bits=int(self.get_nodeattr("ACC_BITS")),
            use_thresholds=use_thr, out_bits=int(self.get_nodeattr("OUT_BITS")) if use_thr else 1,
            num_thresh=int(self.get_nodeattr("NUM_THRESH")) if use_thr else 1,
            act_val=int(self.get_nodeattr("ACT_VAL")), xnor=bool(self.get_nodeattr("XNOR")),
            tree_levels_per_stage=int(self.get_nodeattr("TREE_LEVELS_PER_STAGE")))

    def weights(self, model) -> np.ndarray:
        """Integer weights in the contract's orientation, (MH, MW); bipolar {-1, +1} for W_BITS = 1
        (binaryXnorMode stores them as bits {0, 1}: converted here)."""
        w = np.rint(np.asarray(model.get_initializer(self.onnx_node.input[1]))).astype(np.int64).T
        return 2 * w - 1 if self.get_nodeattr("binaryXnorMode") else w

    def thresholds(self, model) -> np.ndarray | None:
        if self.get_nodeattr("noActivation"):
            return None
        t = np.asarray(model.get_initializer(self.onnx_node.input[2]))
        return np.broadcast_to(np.rint(t).astype(np.int64), (self.get_nodeattr("MH"), t.shape[-1]))

    def infer_node_datatype(self, model):
        super().infer_node_datatype(model)
        if self.get_nodeattr("noActivation") and self.get_nodeattr("ACC_BITS"):
            model.set_tensor_datatype(self.onnx_node.output[0], DataType[self.get_nodeattr("outputDataType")])

    # ----------------------------------------------------------------------------------------------
    # resource estimates for the LUT-based dqhw_mvau (no DSP)
    # ----------------------------------------------------------------------------------------------
    def _resources(self):
        """dqhw.estimate.mvau with this node's folding and exact widths."""
        from dqhw import estimate

        out_bits = self.get_nodeattr("OUT_BITS") if self.get_nodeattr("USE_THRESHOLDS") else None
        return estimate.mvau(
            self.get_nodeattr("PE"), self.get_nodeattr("SIMD"), self.get_nodeattr("MW"), self.get_nodeattr("MH"),
            self.get_nodeattr("IN_BITS") or element_bits(self.get_input_datatype(0)),
            self.get_nodeattr("W_BITS") or element_bits(self.get_input_datatype(1)),
            self.get_nodeattr("ACC_BITS") or 32, out_bits, self.get_nodeattr("NUM_THRESH"),
            weight_rom_block=bool(self.get_nodeattr("WEIGHT_ROM_BLOCK")),
            thresh_rom_block=bool(self.get_nodeattr("THRESH_ROM_BLOCK")))

    def lut_estimation(self, fpgapart=None) -> int:
        """dqhw.estimate.mvau (FINN-R's LUT model with dqhw's exact widths, calibrated against Yosys)."""
        return self._resources().lut

    def bram_estimation(self, fpgapart=None) -> int:
        """RAMB18 count of the weight ROM (and threshold ROM when in BRAM)."""
        return self._resources().bram18
