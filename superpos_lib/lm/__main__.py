"""``python -m superpos_lib.lm [--steps ...]``: train the book's language model
(:func:`superpos_lib.lm.train.main`); ``python -m superpos_lib.lm sae [...]``: train an SAE on
its neurons (:func:`superpos_lib.lm.sae.main`)."""

import sys

from .sae import main as sae_main
from .train import main

if sys.argv[1:2] == ["sae"]:
    sae_main(sys.argv[2:])
else:
    main()
