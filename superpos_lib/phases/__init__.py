"""Chapter 5, "Phase changes and learning dynamics".

* :mod:`.diagram` (TMS §5, "Superposition as a Phase Change"): the ``n = 2, m = 1`` model's
  three candidate solutions and their exact losses, the analytic phase diagram, the ``n = 3,
  m = 2`` candidates, and trained phase diagrams (every cell and seed in one batch);
* :mod:`.optimum`: the ``n = 2, m = 1`` model's exact loss and its exact optimum over all four
  parameters, which beats the clean candidates near the switch;
* :mod:`.kgons` (Chen et al. 2023): the exact loss on one-feature-at-a-time data, the optimal
  regular k-gons, and training runs that pass through them one ``k`` at a time;
* :mod:`.figures`: phase diagrams, candidate losses, a model's path through the k-gons;
* :mod:`.explorer`: :class:`PhaseExplorer`, the ``n = 2, m = 1`` model retrained live.
"""

from .diagram import (
    DEDICATED,
    NOT_REPRESENTED,
    SOLUTIONS,
    SUPERPOSED,
    SUPERPOSED_ABOVE,
    PhaseGrid,
    analytic_phase,
    away_from_boundary,
    candidate_losses,
    candidate_losses_3_2,
    classify_extra_feature,
    phase_boundary,
    train_phase_grid,
)
from .explorer import PhaseExplorer, PhasePoint
from .figures import (
    PHASE_COLOURS,
    PhaseFrame,
    draw_phase_diagram,
    plot_candidate_losses,
    plot_kgon_dynamics,
    plot_phase_diagrams,
)
from .kgons import (
    Dwell,
    KGon,
    Trajectory,
    Visit,
    kgon_size,
    kgon_visits,
    level_dwell,
    n_reconstructed,
    one_hot_loss,
    optimal_kgon,
    regular_kgon,
    train_one_hot,
)
from .optimum import ExactOptimum, exact_loss, exact_optimum

__all__ = [
    "DEDICATED",
    "NOT_REPRESENTED",
    "SOLUTIONS",
    "SUPERPOSED",
    "SUPERPOSED_ABOVE",
    "PhaseGrid",
    "analytic_phase",
    "away_from_boundary",
    "candidate_losses",
    "candidate_losses_3_2",
    "classify_extra_feature",
    "phase_boundary",
    "train_phase_grid",
    "ExactOptimum",
    "exact_loss",
    "exact_optimum",
    "PhaseExplorer",
    "PhasePoint",
    "PHASE_COLOURS",
    "PhaseFrame",
    "draw_phase_diagram",
    "plot_candidate_losses",
    "plot_kgon_dynamics",
    "plot_phase_diagrams",
    "Dwell",
    "KGon",
    "Trajectory",
    "Visit",
    "kgon_size",
    "kgon_visits",
    "level_dwell",
    "n_reconstructed",
    "one_hot_loss",
    "optimal_kgon",
    "regular_kgon",
    "train_one_hot",
]
