"""Chapter 8, memorization and double descent (Henighan et al. 2023): toy models on finite data.

* :mod:`.finite`: fixed unit-norm datasets of ``T`` sparse examples, the model with the
  paper's loss on them, and the sweep over dataset sizes and seeds, batched and full batch;
* :mod:`.analysis`: the dimensionality of training examples (from their hidden vectors) and
  of features, and which of the two hold the hidden dimensions;
* :mod:`.figures` and :mod:`.explorer`: the chapter's figures, the site's slider over ``T``
  and the live explorer.
"""

from .analysis import (OWNS, FeatureAlignment, Regimes, dimension_owners, example_dimensionality, feature_alignment,
                       feature_dims, regimes)
from .explorer import EXPLORER_TRAINING, MemorizationExplorer, MemorizationFrame, memorization_title
from .figures import (draw_vectors, plot_dimensionality, plot_double_descent, plot_hidden_vectors,
                      plot_memorization_sweep, plot_test_loss_by_width)
from .finite import (BUCKET_RATIO, DENSITY, MEMORIZATION_TRAINING, N_FEATURES, SIZES, DoubleDescent, FiniteDataModel,
                     double_descent, finite_datasets, test_loss)

__all__ = [
    "OWNS", "Regimes", "dimension_owners", "example_dimensionality", "feature_dims", "regimes", "FeatureAlignment",
    "feature_alignment",
    "EXPLORER_TRAINING", "MemorizationExplorer", "MemorizationFrame", "memorization_title",
    "draw_vectors", "plot_dimensionality", "plot_double_descent", "plot_hidden_vectors", "plot_memorization_sweep",
    "plot_test_loss_by_width",
    "BUCKET_RATIO", "DENSITY", "MEMORIZATION_TRAINING", "N_FEATURES", "SIZES", "DoubleDescent", "FiniteDataModel",
    "double_descent", "finite_datasets", "test_loss",
]
