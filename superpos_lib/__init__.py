"""superpos_lib: the library behind the superpos textbook on superposition.

Chapters import everything they compute from here. A flat shared core, one concept per module:

* ``checks``: argument checks (a ``ValueError`` naming the argument)
* ``runtime``: device choice (CUDA > MPS > CPU), CPU threads, the notebook setup cell
* ``data``: sparse synthetic features with per-instance density and importance, and
  correlated / anticorrelated groups
* ``training``: the one generic training loop, for any model batched over instances
* ``models``: the toy model ``ToyModel`` and how to train it (``train_toy_models``)
* ``metrics``: norms, superposition, feature dimensionality, the loss decomposition
* ``ui``: the figure-frame base, the one explorer base, drawers, sliders, tables

and one package per topic, each holding that topic's analysis, figures and explorer:

* ``features``: chapter 1, features, decomposability and linearity (TMS §1)
* ``privileged``: chapter 2, privileged and non-privileged bases (TMS §3, §8)
* ``superposition``: chapter 3, demonstrating superposition (TMS §2)
* ``decomposition``: chapter 4, the mathematics of superposition (TMS §4)
* ``phases``: chapter 5, phase changes (TMS §5) and k-gon learning dynamics (Chen et al. 2023)
* ``geometry``: chapter 6, the geometry of superposition (TMS §6)
* ``computation``: chapter 7, computation in superposition (TMS §7): the absolute-value model,
  the asymmetric motif, adversarial vulnerability
* ``memorization``: chapter 8, memorization and double descent (Henighan et al. 2023): toy
  models on finite datasets, the dimensionality of training examples
* ``sae``: chapter 9, sparse autoencoders (Bricken et al. 2023, Gao et al. 2024,
  Rajamanoharan et al. 2024, Sharkey et al. 2022), and chapter 10, SAEs in practice
* ``lm``: chapter 11, a language model the book trains itself (Bricken et al.'s one-layer
  transformer on Shakespeare, character level), shipped with an SAE of its neurons

``widgets`` gathers every explorer, and ``exercises`` every chapter's exercises with checkers
that name the learner's likely mistake (``exercises.check(name, fn)``). The static site's
build machinery is not part of the library: it is the Sphinx extension in
``_ext/superpos_site`` beside ``_config.yml``.
"""

from . import (
    checks,
    computation,
    data,
    decomposition,
    exercises,
    features,
    geometry,
    lm,
    memorization,
    metrics,
    models,
    phases,
    privileged,
    runtime,
    sae,
    superposition,
    training,
    ui,
    widgets,
)
from .data import FeatureGroups, generate_batch, importance_decay, log_densities
from .models import ToyModel, ToyModelConfig, ToyModels, evaluate_loss, fit_toy_models, train_toy_models
from .runtime import describe_device, get_device, setup_notebook
from .training import TrainConfig, train

__version__ = "0.2.0"

__all__ = [
    "checks",
    "computation",
    "data",
    "decomposition",
    "exercises",
    "features",
    "geometry",
    "lm",
    "memorization",
    "metrics",
    "models",
    "phases",
    "privileged",
    "runtime",
    "sae",
    "superposition",
    "training",
    "ui",
    "widgets",
    "FeatureGroups",
    "generate_batch",
    "importance_decay",
    "log_densities",
    "ToyModel",
    "ToyModelConfig",
    "ToyModels",
    "evaluate_loss",
    "fit_toy_models",
    "train_toy_models",
    "TrainConfig",
    "train",
    "describe_device",
    "get_device",
    "setup_notebook",
]
