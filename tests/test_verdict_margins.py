"""The verdict's noise margin on synthetic numbers, independent of the report code: margin = seed spread
(max - min over each family's seeds, summed) + 2 binomial SE of the difference (+ a rule's fixed margin),
three outcomes per comparison, and how a rule's bit widths combine."""

from __future__ import annotations

import math

import pytest

from dqhw.reproduce.config import Rule
from dqhw.reproduce.verdict import (
    DOES_NOT,
    NOT_MEASURED,
    PARTLY,
    REPRODUCES,
    TIE,
    binomial_se,
    compare,
    family_of,
    judge,
    seed_spread,
    split_family,
)


def _rule(**kw) -> Rule:
    base = dict(claim="c", profile="paper", metric="fgsm", eps=8, better="DQ", worse="vanilla", bits=None)
    return Rule(**{**base, **kw})


def _cells(values: dict, n: int = 400):
    """{(family, bits): [acc per seed]} -> (cells, counts) of profile paper, FGSM at ε = 8."""
    cells = {("paper", f, b, "fgsm", 8): v for (f, b), v in values.items()}
    return cells, {k: n for k in cells}


def test_seed_spread_and_binomial_se():
    assert seed_spread([0.3]) == 0.0
    assert seed_spread([0.30, 0.36, 0.33]) == pytest.approx(0.06)
    assert binomial_se(0.5, 100, 0.5, 100) == pytest.approx(math.sqrt(0.005))
    assert binomial_se(0.0, 50, 1.0, 50) == 0.0
    assert binomial_se(0.2, 400, 0.1, 100) == pytest.approx(math.sqrt(0.2 * 0.8 / 400 + 0.1 * 0.9 / 100))


def test_compare_one_seed_margin_is_two_se():
    # p1 = 0.5, p2 = 0.4, n = 400: SE = sqrt(.25/400 + .24/400) = 3.5 points; margin 7.0
    se = 100 * math.sqrt(0.25 / 400 + 0.24 / 400)
    c = compare([0.5], [0.4], 400, 400)
    assert c["seed_spread"] == 0.0 and c["se"] == pytest.approx(se)
    assert c["margin"] == pytest.approx(2 * se) and c["diff_points"] == pytest.approx(10.0)
    assert c["outcome"] == REPRODUCES  # 10 > 7.0
    assert compare([0.4], [0.5], 400, 400)["outcome"] == DOES_NOT
    assert compare([0.45], [0.4], 400, 400)["outcome"] == TIE  # 5 < 7.0
    assert compare([0.4], [0.45], 400, 400)["outcome"] == TIE
    # fewer images, larger SE: the same 10 points become a tie
    assert compare([0.5], [0.4], 50, 50)["outcome"] == TIE
    # equal numbers are a tie, never a pass (strict inequality), even with a zero margin
    assert compare([0.0], [0.0], 100, 100)["outcome"] == TIE


def test_compare_adds_both_seed_spreads_and_the_fixed_margin():
    c = compare([0.50, 0.60], [0.30, 0.34], 200, 200)
    se = 100 * math.sqrt(0.55 * 0.45 / 200 + 0.32 * 0.68 / 200)
    assert c["diff_points"] == pytest.approx(23.0)
    assert c["seed_spread"] == pytest.approx(14.0)  # 10 + 4
    assert c["margin"] == pytest.approx(14.0 + 2 * se)  # 23.8: the 23-point gap is inside the noise
    assert c["outcome"] == TIE
    assert compare([0.50, 0.60], [0.20, 0.24], 200, 200)["outcome"] == REPRODUCES  # 33 > 23.8
    fixed = compare([0.5], [0.4], 400, 400, extra=5.0)
    assert fixed["margin"] == pytest.approx(2 * 100 * math.sqrt(0.25 / 400 + 0.24 / 400) + 5.0)
    assert fixed["outcome"] == TIE  # 10 < 12.0


def test_judge_combines_bit_widths():
    cells, counts = _cells({("DQ", "1"): [0.50], ("vanilla", "1"): [0.10],
                            ("DQ", "2"): [0.48, 0.52], ("vanilla", "2"): [0.20, 0.30],
                            ("DQ", "4"): [0.30], ("vanilla", "4"): [0.29], ("FP", "fp"): [0.40]})
    v = judge(_rule(), cells, counts)
    assert [r["outcome"] for r in v["rows"]] == [REPRODUCES, REPRODUCES, TIE]
    assert v["outcome"] == PARTLY
    assert "tie within noise" in v["text"] and "margin" in v["text"] and "n = 400/400" in v["text"]
    assert judge(_rule(bits=["1", "2"]), cells, counts)["outcome"] == REPRODUCES
    assert judge(_rule(bits=["4"]), cells, counts)["outcome"] == TIE
    swapped = judge(_rule(better="vanilla", worse="DQ", bits=["1", "2"]), cells, counts)
    assert swapped["outcome"] == DOES_NOT
    # FP (no bit width) against each of the other family's bit widths
    fp = judge(_rule(better="DQ", worse="FP"), cells, counts)
    assert [r["bits"] for r in fp["rows"]] == ["1", "2", "4"]
    # 2 bits: +10 points, but the margin is the 4-point seed spread + 2 SE (7.0) = 11.0
    assert [r["outcome"] for r in fp["rows"]] == [REPRODUCES, TIE, DOES_NOT]
    assert fp["rows"][1]["margin"] == pytest.approx(4.0 + 2 * 100 * math.sqrt(0.25 / 400 + 0.24 / 400))


def test_judge_not_measured():
    cells, counts = _cells({("DQ", "2"): [0.5], ("vanilla", "2"): [0.1]})
    assert judge(_rule(bits=["4"]), cells, counts)["outcome"] == NOT_MEASURED
    assert judge(_rule(metric="square"), cells, counts)["outcome"] == NOT_MEASURED
    # a cell without its image count cannot be judged: its SE is unknown
    assert judge(_rule(), cells, {})["outcome"] == NOT_MEASURED


def test_judge_uses_each_cells_own_image_count():
    cells = {("strong", "DQ", "2", "autoattack", 8): [0.30], ("strong", "vanilla", "2", "autoattack", 8): [0.20]}
    many = judge(_rule(profile="strong", metric="autoattack"), cells, {k: 2000 for k in cells})
    few = judge(_rule(profile="strong", metric="autoattack"), cells, {k: 100 for k in cells})
    assert many["outcome"] == REPRODUCES and few["outcome"] == TIE
    assert few["rows"][0]["margin"] > many["rows"][0]["margin"]


def test_families_carry_weight_bits():
    s = {"bits": "2", "wbits": "fp", "beta": 2e-3, "adv": "none"}
    assert family_of(s) == "DQ"  # the paper's quantizer: float weights
    assert family_of({**s, "wbits": "8"}) == "DQ W8"  # its hardware twin
    assert family_of({**s, "wbits": "2", "beta": 0.0, "adv": "rfgsm"}) == "vanilla+rfgsm W2"
    assert family_of({**s, "bits": "fp", "adv": "rfgsm"}) == "FP+DQ+rfgsm"
    assert split_family("DQ+rfgsm W8 + FS") == ("DQ+rfgsm", "8", True)
    assert split_family("FP+DQ + FS") == ("FP+DQ", None, True)
    assert split_family("FP W8") is None and split_family("DQQ") is None and split_family("DQ W9") is None
