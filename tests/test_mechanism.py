"""The mechanism experiment: its verdict arithmetic on synthetic numbers, the quantizer bypass against an
independently built float model, the config's one-line errors, and a whole small run on digits."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dqhw.mechanism import verdict as V
from tests.conftest import assert_one_line_error, run_cli

# -------------------------------------------------------------------------------------------------
# the noise-margin rule


def test_compare_holds_ties_and_reverses_by_the_margin():
    # a = 0.41, b = 0.305, spread 0.02, SE = sqrt(.41*.59/1000 + .305*.695/1000) = sqrt(4.53875e-4) = 0.0213043
    c = V.compare([0.40, 0.42], [0.30, 0.31], n=1000)
    assert c["spread"] == pytest.approx(0.02)
    assert c["margin"] == pytest.approx(0.02 + 2 * 0.0213043, abs=1e-6)
    assert c["outcome"] == V.HOLDS
    # a 3-point lead inside 2 SE (~0.042) plus no spread is a tie
    assert V.compare([0.33], [0.30], n=1000)["outcome"] == V.TIE
    # the same lead with a large seed spread is a tie too; the reverse beyond the margin is "reversed"
    assert V.compare([0.40, 0.30], [0.30, 0.30], n=10_000)["outcome"] == V.TIE
    assert V.compare([0.20], [0.30], n=1000)["outcome"] == V.REVERSED
    # more images: the same 3 points hold
    assert V.compare([0.33], [0.30], n=100_000)["outcome"] == V.HOLDS


def _result(group, seed, beta, residual, d, d_off, worst, square=None, transfer=None, quantized=True):
    cell = {"on": [0.1, d], "off": [0.1, d_off]}
    acc = {"worst": worst, "square": square if square is not None else worst + 0.1,
           "transfer-pgd": transfer if transfer is not None else worst + 0.2}
    return {"run": f"{group}-s{seed}", "group": group, "seed": seed, "beta": beta, "quantized": quantized,
            "dq_target": "weight", "summary": {"mean_relative_residual": residual},
            "d": {k: {str(e): cell for e in (1, 2, 4)} for k in V.COMMON_KINDS},
            "robust": {"n": 1000, "eps": {str(e): acc for e in (2, 4)}}}


RULES = {"residual_drop": 5.0, "d_drop": 0.2, "monotone_tolerance": 0.02, "quant_vs_bypass_eps": [1, 2],
         "claim": "a4-b2e-3", "baselines": ["a4-b0", "fp-b0"], "baseline_seeds": {"fp-b0": [0]},
         "se_multiplier": 2.0, "agree_metrics": ["square", "transfer-pgd"]}


def _experiment(dq_d=0.3, dq_worst=0.40):
    return [
        _result("fp-b0", 0, 0.0, 1.0, 0.9, 0.9, 0.10, quantized=False),
        _result("fp-b0", 1, 0.0, 1.0, 0.9, 0.9, 0.11, quantized=False),
        _result("a4-b0", 0, 0.0, 1.2, 0.8, 0.85, 0.20),
        _result("a4-b0", 1, 0.0, 1.1, 0.8, 0.85, 0.21),
        _result("a4-b5e-4", 0, 5e-4, 0.5, 0.6, 0.7, 0.25),
        _result("a4-b2e-3", 0, 2e-3, 0.2, dq_d, dq_d + 0.2, dq_worst),
        _result("a4-b2e-3", 1, 2e-3, 0.2, dq_d, dq_d + 0.2, dq_worst + 0.01),
        _result("a4-b8e-3", 0, 8e-3, 0.05, min(dq_d, 0.25), 0.4, 0.45),
    ]


def test_judge_finds_the_mechanism_and_the_claim_when_the_numbers_say_so():
    v = V.judge(_experiment(), RULES, [2, 4])["paper"]
    assert [m["pass"] for m in v["mechanism"]] == [True, True, True]
    assert v["mechanism_present"]
    assert v["claim"]["verdict"] == "holds"
    assert {c["baseline"] for c in v["claim"]["comparisons"]} == {"a4-b0", "fp-b0"}


def test_judge_reports_a_missing_mechanism_and_a_tie():
    # D does not fall (0.8 -> 0.78) and the DQ model is only 1 point more robust: both must show
    v = V.judge(_experiment(dq_d=0.78, dq_worst=0.21), RULES, [2, 4])["paper"]
    ortho, amp, quant = v["mechanism"]
    assert ortho["pass"] and not amp["pass"] and quant["pass"]
    assert not v["mechanism_present"]
    assert v["claim"]["verdict"] == "not supported (ties within noise)"
    # a DQ model clearly *less* robust than vanilla is a contradiction, not a tie
    assert V.judge(_experiment(dq_worst=0.05), RULES, [2, 4])["paper"]["claim"]["verdict"] == "contradicted"


def test_non_monotone_sweep_fails_the_amplification_rule():
    results = _experiment()
    results[4]["d"] = {k: {str(e): {"on": [0.1, 0.95], "off": [0.1, 1.0]} for e in (1, 2, 4)} for k in V.COMMON_KINDS}
    amp = V.judge(results, RULES, [2, 4])["paper"]["mechanism"][1]
    assert amp["monotone"]["pass"] is False and amp["pass"] is False


# -------------------------------------------------------------------------------------------------
# the quantizer bypass


def test_bypass_equals_the_same_weights_in_a_float_relu6_model():
    from dqhw.amplification import bypass_quantizers
    from dqhw.models import build_model
    from dqhw.quant import QuantSpec

    torch.manual_seed(0)
    quantized = build_model("cnv", QuantSpec(act_bits=2, weight_bits=None), (32, 32, 3), 10, width=0.125).eval()
    for m in quantized.modules():  # activations spread over [0, 6], so that the 2-bit rounding shows
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.weight.data.fill_(2.0)
            m.bias.data.fill_(1.5)
    twin, replaced = bypass_quantizers(quantized)
    assert replaced == 8
    # an independent float model: the paper's FP network, ReLU6 as nn.Hardtanh(0, 6), same weights
    float_model = build_model("cnv", QuantSpec(act_bits=None, weight_bits=None), (32, 32, 3), 10, width=0.125)
    float_model.load_state_dict(quantized.state_dict(), strict=False)
    float_model.eval()
    x = torch.rand(4, 3, 32, 32) * 255
    with torch.no_grad():
        assert torch.allclose(twin(x), float_model(x), atol=1e-5)
        assert not torch.allclose(quantized(x), float_model(x), atol=1e-3)
    # the original keeps its quantizers
    assert sum(type(m).__name__ == "QuantReLU" for m in quantized.modules()) == 8


def test_noise_set_is_seeded_bounded_and_on_the_grid():
    import numpy as np

    from dqhw.amplification import noise_set

    x = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    a, b = noise_set(x, 4, 0), noise_set(x, 4, 0)
    assert a.dtype == np.uint8 and (a == b).all()
    assert np.abs(a.astype(int) - x.astype(int)).max() <= 4
    assert (noise_set(x, 4, 1) != a).any()


# -------------------------------------------------------------------------------------------------
# config errors


CONFIG = """
[experiment]
name = "mini"
dataset = "digits"
data_dir = "unused"
train_subset = 1200
test_subset = 200
out = "{out}"
jobs = 2

[train]
model = "tiny"
bits = "4"
wbits = "fp"
epochs = 3
schedule = "cosine"
lr = 0.05
clip_grad = 0.0

[runs]
fp-b0-s0 = {{ bits = "fp", beta = 0.0, seed = 0 }}
fp-b0-s1 = {{ bits = "fp", beta = 0.0, seed = 1 }}
a4-b0-s0 = {{ beta = 0.0, seed = 0 }}
a4-b2e-3-s0 = {{ beta = 2e-3, seed = 0 }}
a4-bnfold-b2e-3-s0 = {{ beta = 2e-3, seed = 0, dq_target = "bn-folded" }}

[measure]
transfer_source = "fp-b0-s1"
d_eps = [16, 32]
robust_eps = [32]
attacks = ["fgsm", "pgd", "pgd-strong", "square", "transfer-pgd"]
square_queries = 20
power_iterations = 10

[rules]
residual_drop = 5.0
d_drop = 0.2
monotone_tolerance = 0.02
quant_vs_bypass_eps = [16]
claim = "a4-b2e-3"
baselines = ["a4-b0", "fp-b0"]
baseline_seeds = {{ "fp-b0" = [0] }}
se_multiplier = 2.0
agree_metrics = ["square", "transfer-pgd"]
repair = "a4-bnfold-b2e-3"
"""


@pytest.mark.parametrize("edit,needle", [
    (("jobs = 2", "jobz = 2"), "unknown key 'jobz'"),
    (('transfer_source = "fp-b0-s1"', 'transfer_source = "nope"'), "transfer_source"),
    (('attacks = ["fgsm",', 'attacks = ["fgsn",'), "'fgsn'"),
    (('claim = "a4-b2e-3"', 'claim = "a9"'), "'a9' is not a run group"),
    (("[train]", "[train]\nseed = 3"), "[train] seed"),
    (("[measure]", "[measure"), "not valid TOML"),
])
def test_config_errors_are_one_line(tmp_path, capsys, edit, needle):
    path = tmp_path / "bad.toml"
    path.write_text(CONFIG.format(out=tmp_path / "out").replace(*edit))
    code, _, err = run_cli(["mechanism", path], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "out").exists()


def test_the_checked_in_config_loads():
    from dqhw.mechanism.config import load

    cfg = load("configs/dq-mechanism.toml")
    assert len(cfg.runs) == 11 and cfg.measure["transfer_source"] == "fp-b0-s1"
    assert all(r.train["wbits"] == "fp" and r.train["clip_grad"] == 0.0 for r in cfg.runs)


# -------------------------------------------------------------------------------------------------
# a whole small experiment


@pytest.mark.slow
def test_mechanism_end_to_end_on_digits(tmp_path, capsys):
    path = tmp_path / "mini.toml"
    out = tmp_path / "out"
    path.write_text(CONFIG.format(out=out))
    code, stdout, err = run_cli(["mechanism", path, "--publish", tmp_path / "published"], capsys)
    assert code == 0, err
    assert "report:" in stdout
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["runs_measured"] == 5 and set(verdict["verdict"]) == {"paper", "repair"}
    for label in ("paper", "repair"):
        assert verdict["verdict"][label]["claim"]["verdict"] in ("holds", "contradicted",
                                                                 "not supported (ties within noise)")
    m = json.loads((out / "measure" / "a4-b2e-3-s0.json").read_text())
    assert len(m["layers"]) == 4 and all(r["bn"] is not None for r in m["layers"][:3])
    assert m["d"]["quantizers_bypassed"] == 3
    assert set(m["d"]["noise"]) == {"16", "32"} and len(m["d"]["noise"]["16"]["on"]) == 3
    row = m["robust"]["eps"]["32"]
    assert row["worst"] <= min(row[a] for a in ("fgsm", "pgd", "pgd-strong", "square", "transfer-pgd"))
    assert not math.isnan(m["summary"]["norm_product_with_bn"])
    fp = json.loads((out / "measure" / "fp-b0-s0.json").read_text())
    assert fp["d"]["quantizers_bypassed"] == 0 and fp["d"]["noise"]["16"]["on"] == fp["d"]["noise"]["16"]["off"]
    for name in ("report.md", "d-per-layer.png", "robust.png"):
        assert (out / name).stat().st_size > 0
        assert (tmp_path / "published" / name).is_file()
    assert (tmp_path / "published" / "a4-b0-s0" / "measure.json").is_file()
    # a second call finds everything done and only rewrites the report
    code, stdout, _ = run_cli(["mechanism", path], capsys)
    assert code == 0 and "5 of 5 runs done, 0 to train" in stdout and "5 of 5 runs measured" in stdout
