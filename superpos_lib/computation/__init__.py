"""Chapter 7, computation in superposition (TMS §7): models that compute, not only store.

* :mod:`.absolute`: the absolute-value model ``y = ReLU(W₂ ReLU(W₁ x) + b)``, batched, with
  hand-written gradients, warm starts and an activation penalty;
* :mod:`.analysis`: exact single-feature read-outs: the sides computed, primary neurons, and
  the asymmetric motif with its account;
* :mod:`.sweep`: the chapter's density sweep and what it computes;
* :mod:`.adversarial`: the smallest perturbation that moves an output, exact for the
  ReLU-output model and by projected gradient search for any other;
* :mod:`.figures` and :mod:`.explorer`: the chapter's figures and live explorer.
"""

from .absolute import AbsoluteValueModel, AbsoluteValueModels, train_absolute_value
from .adversarial import NORMS, min_perturbation, relu_output_min_perturbation, single_feature_inputs
from .analysis import (AsymmetricMotif, check_absolute_weights, computed_sides, feature_response,
                       find_asymmetric_motifs, primary_neurons)
from .explorer import ComputationExplorer, ComputationFrame, computation_title
from .figures import draw_responses, plot_motif, plot_responses, plot_sides_vs_density, plot_vulnerability
from .sweep import COMPUTATION_TRAINING, DECAY, DENSITIES, POLYSEMANTIC, ComputationSweep, computation_sweep

__all__ = [
    "AbsoluteValueModel", "AbsoluteValueModels", "train_absolute_value",
    "NORMS", "min_perturbation", "relu_output_min_perturbation", "single_feature_inputs",
    "AsymmetricMotif", "check_absolute_weights", "computed_sides", "feature_response", "find_asymmetric_motifs",
    "primary_neurons",
    "ComputationExplorer", "ComputationFrame", "computation_title",
    "draw_responses", "plot_motif", "plot_responses", "plot_sides_vs_density", "plot_vulnerability",
    "COMPUTATION_TRAINING", "DECAY", "DENSITIES", "POLYSEMANTIC", "ComputationSweep", "computation_sweep",
]
