"""Chapter 7, computation in superposition (TMS §7): models that compute, not only store.

Started with the absolute-value model (:mod:`.absolute`); the chapter, the asymmetric motif,
adversarial vulnerability and the explorer are to come (issue 16).
"""

from .absolute import AbsoluteValueModel, AbsoluteValueModels, train_absolute_value

__all__ = ["AbsoluteValueModel", "AbsoluteValueModels", "train_absolute_value"]
