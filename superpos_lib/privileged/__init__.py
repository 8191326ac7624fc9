"""Chapter 2, "Privileged and non-privileged bases" (TMS §3 "Privileged Basis", §8
"Superposition in a Privileged Basis").

* :mod:`.basis`: rotations of the hidden space, which leave a linear hidden layer's loss
  unchanged, and how well features and neurons line up (basis alignment, monosemanticity);
* :mod:`.figures`: neurons' weights stacked by feature, alignment against density, the
  static site's slider over a sweep;
* :mod:`.explorer`: :class:`NeuronExplorer`, the neuron model retrained live.

The neuron model is the core toy model with ``hidden_relu=True``:
``superpos_lib.train_toy_models(..., hidden_relu=True)``.
"""

from .basis import basis_alignment, loss_after_rotation, neuron_monosemanticity, random_rotation, rotate_hidden
from .explorer import NeuronExplorer
from .figures import NeuronFrame, draw_neuron_bars, redraw_neuron_bars, plot_alignment_vs_density, plot_neuron_sweep, plot_neuron_weights

__all__ = [
    "basis_alignment",
    "loss_after_rotation",
    "neuron_monosemanticity",
    "random_rotation",
    "rotate_hidden",
    "NeuronExplorer",
    "NeuronFrame",
    "draw_neuron_bars",
    "plot_alignment_vs_density",
    "plot_neuron_sweep",
    "redraw_neuron_bars",
    "plot_neuron_weights",
]
