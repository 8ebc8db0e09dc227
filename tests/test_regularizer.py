import pytest
import torch
import torch.nn as nn

from dqhw.regularizer import DQRegularizer, dq_loss, orth_residual


def _orthonormal(m: int, n: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(max(m, n), min(m, n), dtype=torch.float64))
    return q.T if m < n else q  # rows orthonormal when m < n, columns when m > n


@pytest.mark.parametrize("m,n", [(4, 9), (16, 9), (8, 8)])
def test_zero_for_orthogonal_weights(m, n):
    w = _orthonormal(m, n)
    small = orth_residual(w, paper=False)
    assert float(small) == pytest.approx(0.0, abs=1e-10)
    # the paper's value keeps the constant floor n - m when the rows cannot span R^n
    assert float(orth_residual(w, paper=True)) == pytest.approx(max(n - m, 0), abs=1e-10)


@pytest.mark.parametrize("m,n", [(5, 12), (12, 5)])
def test_both_gram_sides_differ_by_constant_and_share_the_gradient(m, n):
    w = torch.randn(m, n, dtype=torch.float64, requires_grad=True)
    big = (w.T @ w - torch.eye(n, dtype=torch.float64)).pow(2).sum()
    (g_big,) = torch.autograd.grad(big, w)
    other = (w @ w.T - torch.eye(m, dtype=torch.float64)).pow(2).sum()
    (g_other,) = torch.autograd.grad(other, w)
    assert float((big - other).detach()) == pytest.approx(n - m, abs=1e-8)
    assert torch.allclose(g_big, g_other, atol=1e-10)
    assert torch.allclose(g_big, 4 * (w @ w.T @ w - w), atol=1e-10)
    assert float(orth_residual(w.detach(), paper=True)) == pytest.approx(float(big.detach()), rel=1e-10)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 40, 3), nn.Flatten(), nn.Linear(40, 10)).double()


def test_closed_form_gradient_matches_autograd_of_the_paper_formula():
    beta = 3e-3
    net = _net()
    layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    paper = sum(
        (m.weight.reshape(m.weight.shape[0], -1).T @ m.weight.reshape(m.weight.shape[0], -1)
         - torch.eye(m.weight[0].numel(), dtype=torch.float64)).pow(2).sum() for m in layers)
    (0.5 * beta * paper).backward()
    expected = [m.weight.grad.clone() for m in layers]
    for m in layers:
        m.weight.grad = None
    value = DQRegularizer(net, beta).add_grad_()
    assert value == pytest.approx(0.5 * beta * paper.item(), rel=1e-9)
    for m, g in zip(layers, expected):
        assert torch.allclose(m.weight.grad, g, atol=1e-12)
    # the differentiable form gives the same gradient
    for m in layers:
        m.weight.grad = None
    dq_loss(net, beta).backward()
    for m, g in zip(layers, expected):
        assert torch.allclose(m.weight.grad, g, atol=1e-12)


def test_beta_zero_is_free():
    net = _net()
    assert DQRegularizer(net, 0.0).add_grad_() == 0.0
    assert all(m.weight.grad is None for m in net if hasattr(m, "weight"))


def test_regularizer_drives_weights_towards_orthogonality():
    torch.manual_seed(1)
    w = nn.Parameter(torch.randn(6, 20) * 0.7)
    holder = nn.Sequential(nn.Linear(20, 6, bias=False))
    holder[0].weight = w
    reg = DQRegularizer(holder, 1.0)
    opt = torch.optim.SGD([w], lr=0.02)
    start = float(orth_residual(w.detach(), paper=False))
    for _ in range(300):
        opt.zero_grad()
        reg.add_grad_()
        opt.step()
    assert float(orth_residual(w.detach(), paper=False)) < 1e-3 * start


def test_bn_folded_gradient_matches_autograd_on_weight_and_gamma():
    """--dq-target bn-folded: beta/2 ||W'W'^T - I||^2 with W' = diag(gamma / sigma) W, sigma from the running
    variance; the closed form must equal autograd for W and gamma."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, bias=False), nn.BatchNorm2d(6), nn.Flatten(),
                        nn.Linear(6 * 4 * 4, 20, bias=False), nn.BatchNorm1d(20), nn.Linear(20, 5, bias=False)).double()
    for bn in (net[1], net[4]):
        bn.weight.data = torch.rand_like(bn.weight) + 0.5
        bn.running_var = torch.rand_like(bn.running_var) + 0.5
    beta = 3e-3
    ref = 0.0
    for layer, bn in ((net[0], net[1]), (net[3], net[4]), (net[5], None)):
        w = layer.weight.reshape(layer.weight.shape[0], -1)
        if bn is not None:
            w = w * (bn.weight / torch.sqrt(bn.running_var + bn.eps)).view(-1, 1)
        m, n = w.shape
        ref = ref + (w.T @ w - torch.eye(n, dtype=w.dtype)).pow(2).sum() * beta / 2  # the paper's form
    grads = torch.autograd.grad(ref, [net[0].weight, net[1].weight, net[3].weight, net[4].weight, net[5].weight])
    reg = DQRegularizer(net, beta, target="bn-folded", bns={"0": net[1], "3": net[4]})
    value = reg.add_grad_()
    assert value == pytest.approx(float(ref.detach()), rel=1e-9)
    got = [net[0].weight.grad, net[1].weight.grad, net[3].weight.grad, net[4].weight.grad, net[5].weight.grad]
    for g, r in zip(got, grads):
        assert torch.allclose(g, r, atol=1e-10)
    # the reducible part leaves out the constant sum(n - m) of the layers with m < n
    const = (27 - 6) + (96 - 20) + (20 - 5)
    assert reg.last_reducible == pytest.approx(value - beta / 2 * const, rel=1e-9)
