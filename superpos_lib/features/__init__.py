"""Chapter 1, "Features, decomposability and linearity" (TMS §1, "Background and Motivation").

* :mod:`.codes`: linear codes ``r = Σ x_i d_i`` and a non-linear packed code, linear probes,
  the superposition test (``WᵀW`` of the represented features not invertible), regular polygons;
* :mod:`.wordvec`: word vectors computed here from Shakespeare (PPMI + SVD) and their analogies
  (Mikolov et al. 2013);
* :mod:`.figures`: readouts against true values, the explorer's figure, the static site's
  slider over readouts;
* :mod:`.explorer`: :class:`CompositionExplorer`.
"""

from .codes import (
    CompositionDemo,
    LinearProbe,
    compose,
    fit_probe,
    gram_is_invertible,
    in_superposition,
    is_basis_aligned,
    pack_two,
    probe_r2,
    r_squared,
    random_directions,
    regular_polygon,
    unpack_two,
)
from .explorer import CompositionExplorer
from .figures import CompositionFrame, plot_readout_scatter, plot_readout_sweep
from .wordvec import CORPUS_INSTALL, WordVectors, ppmi_svd, shakespeare_plays, shakespeare_text, tokenize

__all__ = [
    "CompositionDemo",
    "LinearProbe",
    "compose",
    "fit_probe",
    "gram_is_invertible",
    "in_superposition",
    "is_basis_aligned",
    "pack_two",
    "probe_r2",
    "r_squared",
    "random_directions",
    "regular_polygon",
    "unpack_two",
    "CompositionExplorer",
    "CompositionFrame",
    "plot_readout_scatter",
    "plot_readout_sweep",
    "CORPUS_INSTALL",
    "WordVectors",
    "ppmi_svd",
    "shakespeare_plays",
    "shakespeare_text",
    "tokenize",
]
