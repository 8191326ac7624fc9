"""superpos_lib: the library behind the superpos textbook on superposition.

Chapters import everything they compute from here, one concept per module:

* ``runtime``: device choice (CUDA > MPS > CPU), CPU threads, the notebook setup cell
* ``data``: sparse synthetic features with per-instance density and importance
* ``models``: ``ToyModel``, batched over instances (linear/ReLU output, optional hidden ReLU)
* ``training``: the one training loop; ``train_toy_models`` for learners
* ``metrics``: norms, superposition, feature dimensionality, the dense closed-form loss, the
  linear model's loss decomposition (feature benefit + interference)
* ``features``: linear vs packed codes, probes, the superposition test (chapter 1)
* ``wordvec``: word vectors from Shakespeare, analogies (chapter 1)
* ``privileged``: rotations, the neuron model, basis alignment (chapter 2)
* ``phases``: phase diagrams of superposition, exact one-hot losses, k-gons (chapter 5)
* ``sae``: sparse autoencoders (ReLU+L1, TopK, JumpReLU), dead latents, recovery metrics (chapter 8)
* ``plotting``: pure figure builders (matplotlib, and plotly for the static site)
* ``widgets``: live explorers; ``book_build``: the Sphinx extension that builds the site
"""

from . import data, features, metrics, models, phases, plotting, privileged, runtime, sae, training, widgets, wordvec
from .data import generate_batch, importance_decay, log_densities
from .models import ToyModel, ToyModelConfig
from .runtime import describe_device, get_device, setup_notebook
from .training import TrainConfig, ToyModels, fit_toy_models, train, train_toy_models

__version__ = "0.1.0"

__all__ = [
    "data",
    "features",
    "metrics",
    "models",
    "phases",
    "plotting",
    "privileged",
    "runtime",
    "sae",
    "training",
    "widgets",
    "wordvec",
    "generate_batch",
    "importance_decay",
    "log_densities",
    "ToyModel",
    "ToyModelConfig",
    "TrainConfig",
    "ToyModels",
    "fit_toy_models",
    "train",
    "train_toy_models",
    "describe_device",
    "get_device",
    "setup_notebook",
]
