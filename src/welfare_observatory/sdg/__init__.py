"""The UN SDG global indicator framework as package data (public API).

>>> from welfare_observatory.sdg import framework
>>> fw = framework()            # version "2023", cached
>>> fw.resolve("1-a-1").id
'1.a.1'
>>> fw.resolve("13.1.1").repeated_in
('1.5.1', '11.5.1')
"""

from welfare_observatory.sdg._framework import (
    VERSIONS,
    Framework,
    Goal,
    SdgIndicator,
    Target,
    UnknownSdgVersionError,
    framework,
    is_sdg_id,
    normalize_id,
)

__all__ = [
    "VERSIONS",
    "Framework",
    "Goal",
    "SdgIndicator",
    "Target",
    "UnknownSdgVersionError",
    "framework",
    "is_sdg_id",
    "normalize_id",
]
