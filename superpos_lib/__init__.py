"""superpos_lib: the library behind the superpos textbook on superposition.

Chapters import everything they compute from here; see the book's DESIGN for the module map.
"""

from . import data, features, metrics, models, plotting, privileged, runtime, training, widgets, wordvec
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
    "plotting",
    "privileged",
    "runtime",
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
