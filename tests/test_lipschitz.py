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


def _brevitas_cnv():
    """A Brevitas CNV (A4, float weights, width 0.125) with non-trivial BatchNorm statistics."""
    from dqhw.models import build_model
    from dqhw.quant import QuantSpec

    torch.manual_seed(1)
    model = build_model("cnv", QuantSpec(act_bits=4, weight_bits=None), (32, 32, 3), 10, width=0.125)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data = torch.rand_like(m.weight) * 3 + 0.2
            m.running_var = torch.rand_like(m.running_var) * 0.5 + 0.05
    return model.eval()


def _folded_norm_by_jacobian(layer, bn, in_shape):
    """Independent oracle: the dense Jacobian of x -> bn(layer(x)) - bn(layer(0)) and its largest singular
    value (no power iteration, no BN gain formula of dqhw's)."""
    def f(x):
        return (bn(layer(x)) - bn(layer(torch.zeros_like(x)))).flatten()

    n_in = int(torch.tensor(in_shape).prod())
    jac = torch.autograd.functional.jacobian(f, torch.zeros(1, *in_shape)).reshape(-1, n_in)
    return float(torch.linalg.matrix_norm(jac, ord=2))


def test_readout_folds_the_batchnorm_of_every_brevitas_layer():
    """Brevitas layers have child modules: the BN that follows each conv/linear must still be found,
    and the folded operator norm must equal the dense Jacobian's (the old readout never found a BN)."""
    model = _brevitas_cnv()
    rows = layer_report(model, torch.zeros(1, 3, 32, 32), iters=200)
    assert [r["bn"] is not None for r in rows] == [True] * 8 + [False]  # 6 convs + 2 FCs have a BN
    shapes = {}

    def record(name):
        def hook(_mod, inp, _out):  # returns None: a returned value would replace the output
            shapes.setdefault(name, tuple(inp[0].shape[1:]))
        return hook

    hooks = [m.register_forward_hook(record(n)) for n, m in model.named_modules()
             if isinstance(m, (nn.Conv2d, nn.Linear))]
    model(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    modules = dict(model.named_modules())
    checked = 0
    for r in rows:
        if r["bn"] is None:
            assert r["spectral_norm_with_bn"] == pytest.approx(r["spectral_norm"])
            continue
        assert r["spectral_norm_with_bn"] != pytest.approx(r["spectral_norm"], rel=1e-3)
        assert r["bn_gain_max"] >= r["bn_gain_min"] > 0
        shape = shapes[r["layer"]]
        if int(torch.tensor(shape).prod()) <= 2048:  # small enough for a dense Jacobian
            exact = _folded_norm_by_jacobian(modules[r["layer"]], modules[r["bn"]], shape)
            assert r["spectral_norm_with_bn"] == pytest.approx(exact, rel=2e-3)
            checked += 1
    assert checked >= 4


def test_relative_residual_and_condition_of_orthonormal_and_scaled_weights():
    from dqhw.lipschitz import condition, relative_residual

    q, _ = torch.linalg.qr(torch.randn(36, 8))
    w = q.T.reshape(8, 4, 3, 3)  # orthonormal rows
    assert relative_residual(w) == pytest.approx(0.0, abs=1e-5)
    assert condition(w)[2] == pytest.approx(1.0, abs=1e-4)
    # rows scaled by 2: G = 4 I, ||G - I||_F / sqrt(k) = 3
    assert relative_residual(2 * w) == pytest.approx(3.0, rel=1e-4)
    scaled = w * torch.linspace(1, 3, 8).view(8, 1, 1, 1)
    assert condition(scaled)[2] == pytest.approx(3.0, rel=1e-4)
