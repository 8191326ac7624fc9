"""Chapter 4, "The mathematics of superposition" (TMS §4 and the Thomson problem).

The loss decomposition itself, ``loss = feature benefit + interference (+ bias)`` for the
linear model, is a measurement of ``W`` and lives with the others in :mod:`superpos_lib.metrics`
(:func:`~superpos_lib.metrics.loss_decomposition`, :func:`~superpos_lib.metrics.pairwise_interference`),
where the later chapters reuse it. This package holds the chapter's figures (the terms as
stacked bars, interference against angle with and without a ReLU) and its explorer, in which
the reader places features by hand.
"""

from .explorer import DecompositionExplorer
from .figures import DecompositionFrame, plot_interference_vs_angle, plot_loss_terms

__all__ = ["DecompositionExplorer", "DecompositionFrame", "plot_interference_vs_angle", "plot_loss_terms"]
