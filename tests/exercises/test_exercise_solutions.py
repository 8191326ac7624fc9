"""The solutions match the library's own definitions, and correct answers written another way
pass their checks (a checker must not insist on one way of writing it)."""

import itertools
import math

import torch

from superpos_lib import features, metrics, phases, privileged, sae
from superpos_lib.exercises import EXERCISES, check
from superpos_lib.models import ToyModel
from superpos_lib.sae.topk import _topk


def solution(name):
    return EXERCISES[name].solution


def gen(seed):
    return torch.Generator().manual_seed(seed)


# -- the solutions agree with the library ------------------------------------------------------
def test_chapter_1_solutions_match_the_library():
    E = torch.randn(30, 6, generator=gen(0))
    unit = E / E.norm(dim=1, keepdim=True)
    vectors = features.WordVectors([f"w{i}" for i in range(30)], unit)
    for a, b, c in ((0, 1, 2), (5, 17, 9), (29, 3, 11)):
        word = vectors.analogy(f"w{a}", f"w{b}", f"w{c}", k=1)[0][0]
        assert solution("analogy")(E, a, b, c) == int(word[1:])
    cos = solution("cosine_similarities")(E)
    assert torch.allclose(cos, sae.cosine_matrix(E, E), atol=1e-5)
    for W in (torch.eye(2), features.regular_polygon(5), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]),
              torch.tensor([[1.0, 0.3], [0, 0]]), torch.randn(3, 2, generator=gen(1))):
        assert solution("in_superposition")(W) == features.in_superposition(W)


def test_ppmi_is_the_formula_of_ppmi_svd():
    # ppmi_svd computes PPMI in place inside itself; the same steps, spelled out
    counts = torch.poisson(torch.rand(7, 7, generator=gen(2)) * 3, generator=gen(3))
    counts = counts + counts.T
    total = counts.sum()
    p_context = counts.sum(0) ** 0.75
    expected = (counts / total / (counts.sum(1) / total)[:, None] / (p_context / p_context.sum())[None, :])
    expected = expected.log().clamp(min=0).nan_to_num(0.0)
    assert torch.allclose(solution("ppmi")(counts), expected, atol=1e-6)


def test_chapter_2_and_3_solutions_match_the_library():
    g = gen(4)
    W, b = torch.randn(3, 2, 5, generator=g), torch.randn(3, 5, generator=g)
    x = torch.rand(3, 7, 5, generator=g)
    imp = torch.rand(3, 5, generator=g)
    with torch.no_grad():
        plain = ToyModel.from_weights(W, b)
        neuron = ToyModel.from_weights(W, b, hidden_relu=True)
        assert torch.allclose(solution("toy_forward")(W, b, x), plain(x), atol=1e-6)
        assert torch.allclose(solution("neuron_forward")(W, b, x), neuron(x), atol=1e-6)
        assert torch.allclose(solution("weighted_mse")(x, plain(x), imp), plain.loss(x, imp), atol=1e-7)
    W[1, :, 2] = 0
    for flag in (False, True):
        assert torch.allclose(solution("basis_alignment")(W, flag), privileged.basis_alignment(W, hidden_relu=flag))
        assert torch.allclose(solution("neuron_monosemanticity")(W, flag),
                              privileged.neuron_monosemanticity(W, hidden_relu=flag))
    assert torch.allclose(solution("superposition")(W), metrics.superposition(W), atol=1e-5)
    Q = solution("random_rotation")(4, gen(5))
    assert Q.dtype == privileged.random_rotation(4).dtype and torch.allclose(Q @ Q.T, torch.eye(4), atol=1e-5)
    p = torch.tensor([[0.5, 0.1], [1.0, 0.02]])
    x = solution("sparse_batch")(p, 50_000, gen(6))
    assert x.dtype == torch.float32
    assert torch.allclose((x != 0).float().mean(1), p, atol=0.01)


def test_chapter_4_solutions_match_the_library():
    g = gen(7)
    W = torch.randn(3, 2, 5, generator=g)
    W[0, :, 1] = 0
    p, imp, b = torch.rand(3, 5, generator=g), torch.rand(3, 5, generator=g), torch.randn(3, 5, generator=g)
    assert torch.allclose(solution("feature_dimensionality")(W), metrics.feature_dimensionality(W), atol=1e-5)
    assert torch.allclose(solution("dimensions_per_feature")(W), metrics.dimensions_per_feature(W))
    assert torch.allclose(solution("dense_optimal_loss")(imp, 2), metrics.dense_optimal_loss(imp, 2))
    terms = metrics.loss_decomposition(W, p, imp, b)
    for mine, theirs in zip(solution("loss_decomposition")(W, p, imp, b), (terms.benefit, terms.interference, terms.bias)):
        assert torch.allclose(mine, theirs, atol=1e-6)
    for relu in (False, True):
        assert torch.allclose(solution("pairwise_interference")(W, relu), metrics.pairwise_interference(W, relu=relu))


def test_chapter_5_solutions_match_the_library():
    r = torch.logspace(-1, 1, 9, dtype=torch.float64)[:, None].expand(9, 8)
    p = torch.logspace(-2, 0, 8, dtype=torch.float64)[None].expand(9, 8)
    assert torch.allclose(solution("candidate_losses")(r, p), phases.candidate_losses(r, p))
    assert torch.equal(solution("analytic_phase")(r, p), phases.analytic_phase(r, p))
    W = torch.randn(40, 2, 3, generator=gen(8))
    assert torch.equal(solution("classify_extra_feature")(W), phases.classify_extra_feature(W))
    for k, n, length in ((0, 3, 1.0), (1, 6, 0.7), (5, 6, 1.17), (6, 6, 1.32)):
        assert torch.allclose(solution("regular_kgon")(k, n, length), phases.regular_kgon(k, n, length)[0].float(), atol=1e-6)
    W, b = torch.randn(5, 2, 6, generator=gen(9)), torch.randn(5, 6, generator=gen(10)) * 0.3
    exact = phases.one_hot_loss(W.double(), b.double()).float()
    assert torch.allclose(solution("one_hot_loss")(W, b), exact, rtol=1e-4)


def test_chapter_8_solutions_match_the_library():
    g = gen(11)
    d_in, d_sae, lam = 3, 7, 0.2
    model = sae.SAE(sae.SAEConfig(d_in, d_sae, "relu_l1", unit_decoder=False, init_b_dec="zero"), lam, seed=1)
    with torch.no_grad():
        model.W_dec.mul_(torch.rand(1, d_sae, 1, generator=g) + 0.5)   # rows of different norms
        model.b_enc.copy_(torch.randn(1, d_sae, generator=g) * 0.1)
        model.b_dec.copy_(torch.randn(1, d_in, generator=g))
    x = torch.randn(20, d_in, generator=g)
    one = model.instance(0)
    f, x_hat = solution("sae_forward")(x, one.W_enc, one.b_enc, one.W_dec, one.b_dec)
    assert torch.allclose(f, one.encode(x), atol=1e-6) and torch.allclose(x_hat, one(x), atol=1e-6)
    with torch.no_grad():
        expected = model.loss(x)[0]
    assert torch.allclose(solution("l1_objective")(x, x_hat, f, one.W_dec, lam), expected, atol=1e-5)
    pre = torch.randn(9, 10, generator=g)
    assert torch.equal(solution("topk_activation")(pre, 4), _topk(pre[None], torch.tensor([4.0]))[0])
    f = torch.relu(torch.randn(30, 6, generator=g) - 1)
    f[:, 2] = 0
    assert torch.equal(solution("dead_latents")(f), sae.latent_density(f) == 0)
    for n_true, n_dec in ((4, 6), (5, 5), (6, 3)):
        t, w = torch.randn(n_true, 4, generator=g), torch.randn(n_dec, 4, generator=g)
        assert math.isclose(solution("mmcs")(t, w), sae.mmcs(t, w), abs_tol=1e-6)
        assert math.isclose(solution("matched_mmcs")(t, w), sae.matched_mmcs(t, w), abs_tol=1e-5)
    x, x_hat = torch.randn(40, 5, generator=g) + 2, torch.randn(40, 5, generator=g)
    assert math.isclose(solution("fvu")(x, x_hat), float(sae.fvu(x, x_hat)), rel_tol=1e-5)


# -- correct answers written differently pass ---------------------------------------------------
def test_other_correct_answers_pass():
    def cosine_similarities(E):
        return torch.nn.functional.cosine_similarity(E[:, None, :], E[None, :, :], dim=-1)

    def analogy(E, a, b, c):
        unit = torch.nn.functional.normalize(E, dim=1)
        ranked = (unit @ (unit[b] - unit[a] + unit[c])).argsort(descending=True).tolist()
        return next(i for i in ranked if i not in (a, b, c))

    def in_superposition(W, min_norm=0.5):
        kept = W[:, W.norm(dim=0) > min_norm]
        eig = torch.linalg.eigvalsh(kept.T @ kept) if kept.shape[1] else torch.ones(1)
        return bool(eig.min() < 1e-6 * eig.max())

    def sparse_batch(feature_probability, batch, generator=None):
        # the library's trick: one uniform number u per entry, present when u < p, value u / p
        p = feature_probability[:, None, :]
        u = torch.rand(p.shape[0], batch, p.shape[2], generator=generator)
        return torch.where(u < p, u / p, torch.zeros_like(u))

    def toy_forward(W, b, x):
        h = torch.einsum("ibf,ihf->ibh", x, W)
        out = torch.einsum("ibh,ihf->ibf", h, W) + b.unsqueeze(1)
        return out.clamp(min=0)

    def weighted_mse(x, x_hat, importance):
        batch, feats = x.shape[1:]
        return (importance.unsqueeze(1) * (x - x_hat).square()).sum((1, 2)) / (batch * feats)

    def superposition(W):
        inst, _, n = W.shape
        out = torch.zeros(inst, n)
        for k in range(inst):
            for i in range(n):
                norm = W[k, :, i].norm()
                for j in range(n):
                    if j != i and norm > 0:
                        out[k, i] += (W[k, :, i] @ W[k, :, j] / norm) ** 2
        return out

    def feature_dimensionality(W):
        W_hat = torch.nn.functional.normalize(W, dim=1)
        dots = torch.einsum("ihf,ihg->ifg", W_hat, W)
        norms_sq = W.square().sum(1)
        total = dots.square().sum(-1)
        return torch.where(norms_sq > 0, norms_sq / total.where(total > 0, torch.ones_like(total)), 0.0)

    def random_rotation(d, generator=None):
        Q, R = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
        return (Q @ torch.diag(torch.sign(torch.diagonal(R)))).float()

    def topk_activation(pre, k):
        threshold = pre.sort(dim=-1, descending=True).values[:, k - 1 : k]
        return torch.where(pre >= threshold, pre, torch.zeros_like(pre)).relu()

    def mmcs(true_directions, W_dec):
        cos = torch.nn.functional.cosine_similarity(true_directions[:, None], W_dec[None], dim=-1)
        return float(sum(row.max() for row in cos) / len(cos))

    def matched_mmcs(true_directions, W_dec):
        t = torch.nn.functional.normalize(true_directions, dim=1)
        cos = t @ torch.nn.functional.normalize(W_dec, dim=1).T
        n, m = cos.shape
        if n <= m:
            best = max(sum(cos[i, j] for i, j in enumerate(p)) for p in itertools.permutations(range(m), n))
        else:
            best = max(sum(cos[i, j] for j, i in enumerate(p)) for p in itertools.permutations(range(n), m))
        return float(best) / n

    def fvu(x, x_hat):
        return float((x - x_hat).pow(2).sum() / (x.var(dim=0, unbiased=False).sum() * len(x)))

    def dead_latents(f):
        return f.count_nonzero(dim=0) == 0

    for fn in (cosine_similarities, analogy, in_superposition, sparse_batch, toy_forward, weighted_mse,
               superposition, feature_dimensionality, random_rotation, topk_activation, mmcs, matched_mmcs,
               fvu, dead_latents):
        check(fn.__name__, fn)
