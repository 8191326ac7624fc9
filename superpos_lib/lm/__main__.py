"""``python -m superpos_lib.lm``: train the book's language model (see :func:`superpos_lib.lm.train.main`)."""

from .train import main

main()
