"""The run-time type checker the test suite applies to superpos_lib (pyproject.toml's addopts).

beartype with PEP 484's numeric tower, so an ``int`` passes where a ``float`` is annotated,
as it does for users; shapes are checked by jaxtyping on top of it.
"""

from beartype import BeartypeConf, beartype

typechecker = beartype(conf=BeartypeConf(is_pep484_tower=True))
