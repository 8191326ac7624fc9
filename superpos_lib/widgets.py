"""Every live explorer of the book in one place (each lives with its chapter's package).

========================  ==========================================  ==================
explorer                  chapter                                     package
========================  ==========================================  ==================
``CompositionExplorer``   1 Features, decomposability and linearity   ``features``
``NeuronExplorer``        2 Privileged and non-privileged bases       ``privileged``
``SuperpositionExplorer`` 3 Demonstrating superposition               ``superposition``
``DecompositionExplorer`` 4 The mathematics of superposition          ``decomposition``
``PhaseExplorer``         5 Phase changes and learning dynamics       ``phases``
``GeometryExplorer``      6 The geometry of superposition             ``geometry``
``ComputationExplorer``   7 Computation in superposition              ``computation``
``MemorizationExplorer``  8 Memorization and double descent           ``memorization``
``SAEExplorer``           9 Sparse autoencoders                       ``sae``
``PracticeExplorer``      10 SAEs in practice                         ``sae``
========================  ==========================================  ==================

All derive from :class:`~superpos_lib.ui.Explorer`: ``ex.controls`` (name → ipywidget),
``ex.update(**changes)`` (move controls as a reader would, wait, return the figure),
``ex.shown`` (the control values of the figure on display), ``ex.error``.
"""

from .computation import ComputationExplorer
from .decomposition import DecompositionExplorer
from .features import CompositionExplorer
from .geometry import GeometryExplorer
from .memorization import MemorizationExplorer
from .phases import PhaseExplorer
from .privileged import NeuronExplorer
from .sae import PracticeExplorer, SAEExplorer
from .superposition import SuperpositionExplorer
from .ui import Explorer, LatestOnlyWorker, ToyModelExplorer

EXPLORERS = (CompositionExplorer, NeuronExplorer, SuperpositionExplorer, DecompositionExplorer, PhaseExplorer,
             GeometryExplorer, ComputationExplorer, MemorizationExplorer, SAEExplorer, PracticeExplorer)
"""Every explorer class, in chapter order."""

__all__ = [
    "EXPLORERS",
    "CompositionExplorer",
    "NeuronExplorer",
    "SuperpositionExplorer",
    "DecompositionExplorer",
    "PhaseExplorer",
    "GeometryExplorer",
    "ComputationExplorer",
    "MemorizationExplorer",
    "SAEExplorer",
    "PracticeExplorer",
    "Explorer",
    "LatestOnlyWorker",
    "ToyModelExplorer",
]
