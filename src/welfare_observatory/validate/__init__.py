"""Validation: checks over canonical tables that return typed findings.

Light on import: the check machinery (pyarrow, DuckDB) loads on first use of a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports

if TYPE_CHECKING:
    from welfare_observatory.validate.builtin import default_checks
    from welfare_observatory.validate.checks import (
        Check,
        CheckContext,
        CheckRegistry,
        RegisterCheck,
        accept_check,
        run_checks,
    )
    from welfare_observatory.validate.schema import validate_observations

__all__ = [
    "Check",
    "CheckContext",
    "CheckRegistry",
    "RegisterCheck",
    "accept_check",
    "default_checks",
    "run_checks",
    "validate_observations",
]

_LAZY = {
    "Check": "welfare_observatory.validate.checks",
    "CheckContext": "welfare_observatory.validate.checks",
    "CheckRegistry": "welfare_observatory.validate.checks",
    "RegisterCheck": "welfare_observatory.validate.checks",
    "run_checks": "welfare_observatory.validate.checks",
    "accept_check": "welfare_observatory.validate.checks",
    "default_checks": "welfare_observatory.validate.builtin",
    "validate_observations": "welfare_observatory.validate.schema",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
