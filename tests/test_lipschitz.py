import pytest
import torch
import torch.nn as nn

from dqhw.lipschitz import _operator, layer_report, operator_norm


def _dense(apply, in_shape):
    n = int(torch.tensor(in_shape).prod())
    basis = torch.eye(n).reshape(n, *in_shape)
    return apply(basis).reshape(n, -1).T  # columns = images of basis vectors


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0), (1, 0)])
def test_power_iteration_matches_svd_of_the_real_conv(stride, padding):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, stride=stride, padding=padding, bias=False)
    bn = nn.BatchNorm2d(5).eval()
    bn.weight.data = torch.rand(5) + 0.5
    bn.running_var = torch.rand(5) + 0.5
    apply = _operator(conv, conv.weight.detach(), bn)
    in_shape = (3, 6, 6)
    exact = float(torch.linalg.matrix_norm(_dense(apply, in_shape).detach(), ord=2))
    assert operator_norm(apply, in_shape, iters=200) == pytest.approx(exact, rel=1e-3)


def test_layer_report_rows(trained_run):
    from dqhw.runs import load_run

    run = load_run(trained_run)
    rows = layer_report(run.model, torch.zeros(1, 1, 8, 8), iters=20)
    assert [r["type"] for r in rows] == ["QuantConv2d"] * 3 + ["QuantLinear"]
    assert all(r["spectral_norm"] > 0 and r["orth_residual"] >= 0 for r in rows)
