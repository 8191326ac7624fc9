"""The generic training loop: configuration, optimisers, callbacks, progress, protocols."""

import pytest
import torch

from conftest import bad_input
from superpos_lib.data import FeatureSampler, importance_decay
from superpos_lib.models import ToyModel, ToyModelConfig
from superpos_lib.training import Adam, TrainConfig, train


@pytest.mark.parametrize(
    "kwargs, name",
    [({"steps": 0}, "steps"), ({"batch_size": -1}, "batch_size"), ({"lr": 0.0}, "lr"),
     ({"lr": float("nan")}, "lr"), ({"betas": (0.9, 1.0)}, "betas"), ({"warmup": 1.0}, "warmup"),
     ({"weight_decay": -1.0}, "weight_decay"), ({"threads": 0}, "threads"), ({"log_every": 0}, "log_every")],
)
def test_train_config_rejects_bad_values(kwargs, name):
    with bad_input(name):
        TrainConfig(**kwargs)


def test_schedule_warms_up_then_decays_to_zero():
    c = TrainConfig(steps=100, lr=1.0, warmup=0.1)
    assert c.lr_at(0) == pytest.approx(0.1)
    assert c.lr_at(9) == pytest.approx(1.0)
    assert c.lr_at(10) == pytest.approx(1.0)
    assert c.lr_at(55) == pytest.approx(0.5)
    assert c.lr_at(99) < 1e-3
    assert all(c.lr_at(s) >= c.lr_at(s + 1) for s in range(10, 99))


def test_adam_matches_torch_adamw():
    torch.manual_seed(0)
    config = TrainConfig(betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)
    ours = [torch.randn(3, 4), torch.randn(3)]
    theirs = [p.clone().requires_grad_() for p in ours]
    opt = Adam(ours, config)
    ref = torch.optim.AdamW(theirs, lr=1.0, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay)
    for step in range(20):
        grads = [torch.randn_like(p) for p in ours]
        lr = 0.01 * (1 + step % 3)
        opt.step(grads, lr)
        for p, g in zip(theirs, grads):
            p.grad = g
        for group in ref.param_groups:
            group["lr"] = lr
        ref.step()
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b.detach(), atol=1e-6)


def _replay(batches):
    it = iter(batches)
    return lambda: next(it)


def test_fast_trainer_matches_plain_reference():
    """The fast loop (analytic gradients, our Adam) == autograd + torch.optim.AdamW + LambdaLR."""
    torch.manual_seed(0)
    config = TrainConfig(steps=60, batch_size=128, lr=0.02, warmup=0.1, weight_decay=0.01)
    cfg = ToyModelConfig(5, 2, 3)
    importance = importance_decay(5, 0.9).expand(3, 5)
    sampler = FeatureSampler(torch.full((3, 5), 0.3), config.batch_size, seed=0)
    batches = [sampler.sample().clone() for _ in range(config.steps)]

    fast = ToyModel(cfg, generator=torch.Generator().manual_seed(1))
    plain = ToyModel(cfg, generator=torch.Generator().manual_seed(1))
    state = train(fast, _replay(batches), config, loss_args=(importance,))

    opt = torch.optim.AdamW(plain.parameters(), lr=config.lr, betas=config.betas, eps=config.eps,
                            weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: config.lr_at(s) / config.lr)
    for x in batches:
        loss = plain.loss(x, importance).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert state.step == config.steps and not state.stopped
    assert torch.allclose(fast.W, plain.W, atol=2e-5)
    assert torch.allclose(fast.b_final, plain.b_final, atol=2e-5)


class _AutogradOnly(torch.nn.Module):
    """A toy model without hand-written gradients: train() must fall back to autograd."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def loss(self, x, importance):
        return self.inner.loss(x, importance)


def test_autograd_fallback_gives_the_same_training():
    config = TrainConfig(steps=30, batch_size=64)
    cfg = ToyModelConfig(4, 2, 2, hidden_relu=True)
    imp = torch.ones(2, 4)
    sampler = FeatureSampler(torch.full((2, 4), 0.5), 64, seed=3)
    batches = [sampler.sample().clone() for _ in range(30)]
    a = ToyModel(cfg, generator=torch.Generator().manual_seed(0))
    b = _AutogradOnly(ToyModel(cfg, generator=torch.Generator().manual_seed(0)))
    train(a, _replay(batches), config, loss_args=(imp,))
    train(b, _replay(batches), config, loss_args=(imp,))
    assert torch.allclose(a.W, b.inner.W, atol=1e-5)


def test_callbacks_run_on_schedule_and_can_stop():
    model = ToyModel(ToyModelConfig(5, 2, 2))
    sampler = FeatureSampler(torch.full((2, 5), 0.2), 32)
    seen = []
    state = train(model, sampler.sample, TrainConfig(steps=100, log_every=5), loss_args=(torch.ones(2, 5),),
                  callbacks=[lambda s: seen.append(s.step)], callback_every=20)
    assert seen == [20, 40, 60, 80, 100]
    assert state.loss_history.shape == (20, 2) and state.logged_steps[:2] == [5, 10]
    assert torch.isfinite(state.loss).all()

    stop_at_40 = lambda s: s.step >= 40  # noqa: E731
    state = train(model, sampler.sample, TrainConfig(steps=100), loss_args=(torch.ones(2, 5),),
                  callbacks=[stop_at_40], callback_every=20)
    assert state.stopped and state.step == 40 and state.loss_history.shape == (4, 2)
    with bad_input("callback_every"):
        train(model, sampler.sample, TrainConfig(steps=10), loss_args=(torch.ones(2, 5),), callback_every=0)


def test_progress_bar_can_be_forced(capsys):
    model = ToyModel(ToyModelConfig(3, 2, 1))
    sampler = FeatureSampler(torch.full((1, 3), 0.5), 16)
    train(model, sampler.sample, TrainConfig(steps=60), loss_args=(torch.ones(1, 3),), progress=True, callback_every=10)
    assert "training" in capsys.readouterr().err


def test_progress_bar_appears_only_for_long_runs_in_a_notebook(capsys, monkeypatch):
    from superpos_lib import training

    model = ToyModel(ToyModelConfig(3, 2, 1))
    sampler = FeatureSampler(torch.full((1, 3), 0.5), 16)
    run = lambda: train(model, sampler.sample, TrainConfig(steps=40), loss_args=(torch.ones(1, 3),), callback_every=10)  # noqa: E731
    monkeypatch.setattr(training, "_want_lazy_progress", lambda: True)
    run()
    assert "training" not in capsys.readouterr().err, "a short run shows no bar"
    monkeypatch.setattr(training, "LAZY_PROGRESS_AFTER_S", 0.0)
    run()
    assert "training" in capsys.readouterr().err, "a run past the threshold gets one"
    monkeypatch.setattr(training, "_want_lazy_progress", lambda: False)
    run()
    assert "training" not in capsys.readouterr().err, "never outside a notebook (or with SUPERPOS_PROGRESS=0)"


def test_want_lazy_progress_respects_the_environment(monkeypatch):
    import sys

    from superpos_lib import training

    monkeypatch.setitem(sys.modules, "ipykernel", object())
    monkeypatch.setenv("SUPERPOS_PROGRESS", "1")
    assert training._want_lazy_progress()
    monkeypatch.setenv("SUPERPOS_PROGRESS", "0")
    assert not training._want_lazy_progress()


def test_constant_schedule_and_sgd():
    c = TrainConfig(steps=100, lr=0.5, warmup=0.1, schedule="constant", optimizer="sgd")
    assert c.lr_at(99) == pytest.approx(0.5) and c.lr_at(0) == pytest.approx(0.05)
    from superpos_lib.training import SGD

    p = torch.ones(2, 3)
    SGD([p], c).step([torch.full((2, 3), 2.0)], 0.5)
    assert torch.allclose(p, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="step")


def test_train_checks_the_model_it_is_given():
    with bad_input("model"):
        train(object(), lambda: torch.ones(1, 2, 3))

    class Frozen(torch.nn.Module):
        def loss(self, x):
            return x.sum((1, 2))

    with bad_input("parameters"):
        train(Frozen(), lambda: torch.ones(1, 2, 3))


class _Hooked(torch.nn.Module):
    """A StepHooks model: its step record and the state come back after each update."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(2, 3))
        self.seen = []

    def loss(self, x):
        return self.step_loss(x)[0]

    def step_loss(self, x):
        return ((x - self.w[:, None, :]) ** 2).mean((1, 2)), float(x.sum())

    def after_step(self, state, x, record):
        self.seen.append((state.step, state.steps, record, state.optimizer is not None))


def test_step_hooks_receive_the_record_after_each_update():
    from superpos_lib.training import HandGradients, StepHooks, Trainable

    model = _Hooked()
    assert isinstance(model, Trainable) and isinstance(model, StepHooks) and not isinstance(model, HandGradients)
    train(model, lambda: torch.full((2, 4, 3), 2.0), TrainConfig(steps=3, log_every=1))
    assert model.seen == [(1, 3, 48.0, True), (2, 3, 48.0, True), (3, 3, 48.0, True)]


def test_reset_moments_for_our_optimisers_and_torchs():
    from superpos_lib.training import SGD, reset_moments

    p = torch.zeros(2, 3)
    opt = Adam([p], TrainConfig())
    opt.step([torch.ones(2, 3)], 0.1)
    mask = torch.tensor([[True, False, False], [False, False, True]])
    reset_moments(opt, p, mask)
    assert (opt.m[0][mask] == 0).all() and (opt.m[0][~mask] > 0).all() and (opt.v[0][mask] == 0).all()
    reset_moments(SGD([p], TrainConfig()), p, mask)  # nothing to forget, and no error

    q = torch.zeros(2, 3, requires_grad=True)
    torch_opt = torch.optim.Adam([q], lr=0.1)
    q.grad = torch.ones(2, 3)
    torch_opt.step()
    reset_moments(torch_opt, q, mask)
    assert (torch_opt.state[q]["exp_avg"][mask] == 0).all() and (torch_opt.state[q]["exp_avg_sq"][~mask] > 0).all()
    with bad_input("optimizer"):
        reset_moments(object(), p, mask)
    with bad_input("mask"):
        reset_moments(opt, p, mask[0])
    with bad_input("param"):
        opt.reset(torch.zeros(2, 3), mask)
