"""``python -m superpos_lib.exercises [--check] [BOOK_DIR]``: write (or check) the learner's copies."""

from .notebooks import main

raise SystemExit(main())
