"""What every chapter's figures and explorers share (no chapter of its own).

* :mod:`.style`: the colour conventions (importance, ``WᵀW``, superposition) and small helpers;
* :mod:`.drawers`: axes-level drawers of a toy model (feature directions, ``WᵀW``, norm bars,
  loss curve), reused by the figures of chapters 3, 4, 5 and 8;
* :mod:`.frame`: :class:`Frame`, the base of every explorer's figure (redrawn in place);
* :mod:`.explorer`: :class:`Explorer`, the one explorer base, and its latest-request-wins worker;
* :mod:`.toy_explorer`: :class:`ToyModelExplorer`, the explorer that retrains a toy model;
* :mod:`.sliders`: the kernel-free plotly slider of the static site's sweep figures;
* :mod:`.table`: :class:`Table`, result tables that fit the page;
* :mod:`.export`: :func:`export_figures`, slide-ready PNG, SVG (and plotly HTML) copies of any figure,
  and :func:`figures_in`, a notebook's figures (the instructor's guide).

Figure builders are pure: they take tensors, return a new figure and change no global state
(no pyplot, no ``rcParams``, no plotly renderer). How plotly figures reach the static site is
the book build's business (``_ext/superpos_site``), not the library's.
"""

from .drawers import draw_features_2d, draw_gram, draw_loss, draw_norm_bars
from .explorer import Explorer, Job, LatestOnlyWorker, control_range
from .export import SLIDE_INCHES, export_figures, figures_in, has_kaleido, is_figure
from .frame import Frame
from .sliders import check_sweep, frame_slider
from .style import importance_colours, panel_titles, rgb, superposition_colours, to_numpy
from .table import Table
from .toy_explorer import EXPLORER_TRAINING, ToyModelExplorer, toy_model_title

__all__ = [
    "draw_features_2d",
    "draw_gram",
    "draw_loss",
    "draw_norm_bars",
    "Explorer",
    "Job",
    "LatestOnlyWorker",
    "control_range",
    "SLIDE_INCHES",
    "export_figures",
    "figures_in",
    "has_kaleido",
    "is_figure",
    "Frame",
    "check_sweep",
    "frame_slider",
    "importance_colours",
    "panel_titles",
    "rgb",
    "superposition_colours",
    "to_numpy",
    "Table",
    "EXPLORER_TRAINING",
    "ToyModelExplorer",
    "toy_model_title",
]
