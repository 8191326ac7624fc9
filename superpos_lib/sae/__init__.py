"""Chapter 9, "Sparse autoencoders": taking features back out of superposition.

* :mod:`.base`: :class:`SAEConfig`, the batched :class:`SAE` every variant derives from, and
  one trained :class:`SparseAutoencoder`;
* one module per variant: :mod:`.relu_l1` (Bricken et al. 2023, with resampling of dead
  latents), :mod:`.topk` (Gao et al. 2024, with the dead-latent auxiliary loss),
  :mod:`.jumprelu` (Rajamanoharan et al. 2024, its L0 penalty; a target-L0 option of the book's own),
  :mod:`.gated` (Rajamanoharan et al. 2024, gate and magnitude apart), :mod:`.batchtopk`
  (Bussmann et al. 2024, top k·B over the batch, a threshold at inference) and
  :mod:`.matryoshka` (Bussmann et al. 2025, nested prefixes on BatchTopK);
* :mod:`.training`: :func:`train_saes` (many at once), :func:`train_sae` (one), the recipe
  :data:`SAE_TRAIN_CONFIG`;
* :mod:`.metrics`: L0, MSE, FVU, the rescale factor (shrinkage), latent densities, MMCS and
  matched MMCS, :func:`evaluate`;
* :mod:`.baselines`: PCA and ICA, which an SAE must beat, and the geometric median;
* :mod:`.data`: ground-truth data (Sharkey et al. 2022) and a toy model's activations;
* :mod:`.figures` and :mod:`.explorer`: the chapter's figures and :class:`SAEExplorer`.

Chapter 10, "SAEs in practice", adds :mod:`.practice` (a structured ground truth with parents
and children, the :class:`FeatureQuality` scorecard, every variant compared, the L0 sweep, seed
stability, feature hedging on correlated features), :mod:`.practice_figures` and :class:`PracticeExplorer`.
"""

from .base import SAE, SAEConfig, SparseAutoencoder, default_sparsity, kinds, sae_class
from .relu_l1 import ReluL1SAE  # the variants register in this order: KINDS lists them so
from .topk import TopKSAE  # noqa: I001
from .jumprelu import JumpReLUSAE  # noqa: I001
from .gated import GatedSAE  # noqa: I001
from .batchtopk import BatchTopKSAE  # noqa: I001
from .matryoshka import MatryoshkaSAE  # noqa: I001
from .baselines import geometric_median, ica_directions, pca_directions, pca_fvu
from .data import Correlation, GroundTruthData, Hierarchy, hidden_activations
from .explorer import SAE_EXPLORER_TRAINING, SAEExplorer, SAEReadout
from .figures import (
    SAE_COLOURS,
    SAEFrame,
    draw_sae_directions,
    plot_density_histograms,
    plot_feature_splitting,
    plot_l0_fvu_frontier,
    plot_recovery_heatmaps,
    plot_sae_directions,
    recovery_table,
)
from .metrics import (
    Absorption,
    FiringScores,
    Recovery,
    SAEMetrics,
    cosine_matrix,
    dead_fraction,
    dense_fraction,
    density_histogram,
    evaluate,
    absorption,
    firing_scores,
    l0,
    latent_density,
    latents_per_feature,
    matched_mmcs,
    mmcs,
    mse,
    n_recovered,
    recovery,
    fvu,
    hedging,
    rescale_factor,
    shared_latents,
    uniqueness,
)
from .training import SAE_TRAIN_CONFIG, ActivationSampler, SAETraining, train_sae, train_saes
from .practice import (
    HEDGING_TRAINING,
    PRACTICE_TRAINING,
    TRUE_L0,
    Comparison,
    FeatureQuality,
    compare_kinds,
    correlated_truth,
    feature_quality,
    hedging_sweep,
    l0_sweep,
    parent_share,
    probe_shift,
    seed_stability,
    sparsity_sweep,
    structured_truth,
)
from .practice_figures import KIND_LABELS, plot_absorption_map, plot_frontiers, plot_l0_sweep, plot_scorecard
from .practice_explorer import PRACTICE_EXPLORER_TRAINING, PracticeExplorer, PracticeFrame, PracticeReadout

KINDS = kinds()
"""The variants, by name: ``("relu_l1", "topk", "jumprelu", "gated", "batchtopk", "matryoshka")``."""

__all__ = [
    "KINDS",
    "SAE",
    "SAEConfig",
    "SparseAutoencoder",
    "ReluL1SAE",
    "TopKSAE",
    "JumpReLUSAE",
    "GatedSAE",
    "BatchTopKSAE",
    "MatryoshkaSAE",
    "default_sparsity",
    "kinds",
    "sae_class",
    "geometric_median",
    "ica_directions",
    "pca_directions",
    "pca_fvu",
    "Correlation",
    "GroundTruthData",
    "Hierarchy",
    "hidden_activations",
    "SAE_EXPLORER_TRAINING",
    "SAEExplorer",
    "SAEReadout",
    "SAE_COLOURS",
    "SAEFrame",
    "draw_sae_directions",
    "plot_density_histograms",
    "plot_feature_splitting",
    "plot_l0_fvu_frontier",
    "plot_recovery_heatmaps",
    "plot_sae_directions",
    "recovery_table",
    "Recovery",
    "SAEMetrics",
    "cosine_matrix",
    "dead_fraction",
    "dense_fraction",
    "density_histogram",
    "evaluate",
    "l0",
    "latent_density",
    "latents_per_feature",
    "matched_mmcs",
    "mmcs",
    "mse",
    "n_recovered",
    "recovery",
    "fvu",
    "rescale_factor",
    "Absorption",
    "FiringScores",
    "absorption",
    "firing_scores",
    "hedging",
    "shared_latents",
    "uniqueness",
    "SAE_TRAIN_CONFIG",
    "ActivationSampler",
    "SAETraining",
    "train_sae",
    "train_saes",
    "HEDGING_TRAINING",
    "PRACTICE_TRAINING",
    "TRUE_L0",
    "Comparison",
    "FeatureQuality",
    "compare_kinds",
    "correlated_truth",
    "feature_quality",
    "hedging_sweep",
    "l0_sweep",
    "parent_share",
    "probe_shift",
    "seed_stability",
    "sparsity_sweep",
    "structured_truth",
    "KIND_LABELS",
    "plot_absorption_map",
    "plot_frontiers",
    "plot_l0_sweep",
    "plot_scorecard",
    "PRACTICE_EXPLORER_TRAINING",
    "PracticeExplorer",
    "PracticeFrame",
    "PracticeReadout",
]
