"""Chapter 3, "Demonstrating superposition" (TMS §2): the toy model's sweeps, drawn and explored.

The model and its training are the shared core (:mod:`superpos_lib.models`), the measurements
:mod:`superpos_lib.metrics`; this package holds the chapter's figures (feature directions,
``WᵀW`` and norms coloured by superposition, represented features against sparsity, the
static site's slider over a sweep), its live explorer, and :mod:`.expectation`: the loss
computed by how many features are active, accurate enough to tell sparse models apart.
"""

from .expectation import active_count_probabilities, expected_loss, with_expected_loss
from .explorer import SuperpositionExplorer
from .figures import (
    ExplorerFrame,
    plot_explorer_frame,
    plot_features_in_2d,
    plot_features_sweep,
    plot_represented_vs_density,
    plot_superposition,
)

__all__ = [
    "active_count_probabilities",
    "expected_loss",
    "with_expected_loss",
    "SuperpositionExplorer",
    "ExplorerFrame",
    "plot_explorer_frame",
    "plot_features_in_2d",
    "plot_features_sweep",
    "plot_represented_vs_density",
    "plot_superposition",
]
