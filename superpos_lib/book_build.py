"""A Sphinx extension for building the book (declared in ``_config.yml``).

Jupyter Book executes each chapter in a kernel started from the build's environment. This
extension sets that environment up so that a plain ``jupyter-book build .`` gives the same
site as the README's command: no progress bars (a closed tqdm widget would leave an empty
widget area on the static page).
"""

from __future__ import annotations

import os

BUILD_ENVIRONMENT = {"SUPERPOS_PROGRESS": "0"}


def setup(app) -> dict:
    os.environ.update(BUILD_ENVIRONMENT)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
