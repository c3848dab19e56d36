"""The shipped indicator catalogue and selection profiles.

``catalog()`` returns the shipped catalogue (loaded once, checked); ``Catalog.load(paths)``
layers an observatory's own files over it. See ``docs/catalogue.md``.
"""

from welfare_observatory.catalog._catalog import (
    Catalog,
    DeprecatedIndicatorWarning,
    Resolved,
    catalog,
    normalize_sdg_id,
)
from welfare_observatory.catalog._model import CatalogValidationError, Profile

__all__ = [
    "Catalog",
    "CatalogValidationError",
    "DeprecatedIndicatorWarning",
    "Profile",
    "Resolved",
    "catalog",
    "normalize_sdg_id",
]
