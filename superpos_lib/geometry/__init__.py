"""Chapter 6, the geometry of superposition (TMS §6, "The Geometry of Superposition").

How trained toy models share their dimensions: feature dimensionality and the fractions it
sticks to, the uniform-importance sweep, polytopes and their tegum products, what non-uniform
importance does to them, and correlated and anticorrelated features.
"""

from .configurations import OneFeatureSweep, one_feature_sweep, within_group_cosines
from .explorer import GeometryExplorer
from .figures import plot_configuration_losses, plot_cosine_blocks, plot_dimensionality_sweep, plot_strong_graph
from .fractions import FRACTIONS, count_near, ideal_structure, regular_polygon, tegum_product
from .graph import STRONG, component_order, components, cosine_similarity, strong_connections
from .sweep import SWEEP_TRAINING, UniformSweep, uniform_sweep
from .viewer import polytope_viewer

__all__ = [
    "FRACTIONS",
    "regular_polygon",
    "ideal_structure",
    "tegum_product",
    "count_near",
    "UniformSweep",
    "uniform_sweep",
    "SWEEP_TRAINING",
    "STRONG",
    "cosine_similarity",
    "strong_connections",
    "components",
    "component_order",
    "OneFeatureSweep",
    "one_feature_sweep",
    "within_group_cosines",
    "plot_dimensionality_sweep",
    "plot_cosine_blocks",
    "plot_strong_graph",
    "plot_configuration_losses",
    "polytope_viewer",
    "GeometryExplorer",
]
