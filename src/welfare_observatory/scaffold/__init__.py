"""Scaffolding for launchers: ``new`` observatory packages and data-request templates.

Light on import: the functions load pandas and openpyxl only when they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports

if TYPE_CHECKING:
    from welfare_observatory.scaffold.observatory import new_observatory
    from welfare_observatory.scaffold.request_template import write_request_template

__all__ = ["new_observatory", "write_request_template"]


_LAZY = {
    "new_observatory": "welfare_observatory.scaffold.observatory",
    "write_request_template": "welfare_observatory.scaffold.request_template",
}

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
