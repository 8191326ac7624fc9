"""The suite's run-time shape checker is really on (``pyproject.toml``: ``--jaxtyping-packages``).

Every library function's ``Float[Tensor, "inst d_hidden feats"]``-style annotations are checked on
every call the suite makes, including in modules that postpone annotations with
``from __future__ import annotations``; a wrongly shaped call raises ``TypeCheckError``. (The
``bad_input`` helper switches the checker off to test what a learner, who runs none, sees.)
"""

import pytest
import torch
from jaxtyping import TypeCheckError

from superpos_lib import metrics, models, sae


def test_the_checker_fires_on_a_wrong_shape_in_a_module_with_postponed_annotations():
    with open(metrics.__file__) as f:
        assert "from __future__ import annotations" in f.read()
    with pytest.raises(TypeCheckError, match="parameter 'W'"):
        metrics.feature_norms(torch.ones(3, 4))      # (inst, d_hidden, feats) expected


def test_the_checker_ties_dimensions_across_arguments():
    model = models.ToyModel(models.ToyModelConfig(5, 2, 3))
    with pytest.raises(TypeCheckError):
        model.loss(torch.ones(3, 8, 5), torch.ones(4, 5))  # inst 3 vs 4


def test_the_checker_checks_return_shapes_and_types():
    with pytest.raises(TypeCheckError):
        sae.mmcs(torch.eye(3), "not a tensor")


def test_bad_input_switches_it_off_only_inside(monkeypatch):
    import jaxtyping

    from conftest import bad_input

    assert not jaxtyping.config.jaxtyping_disable
    with bad_input("W"):
        assert jaxtyping.config.jaxtyping_disable
        metrics.feature_norms(torch.ones(3, 4))
    assert not jaxtyping.config.jaxtyping_disable
