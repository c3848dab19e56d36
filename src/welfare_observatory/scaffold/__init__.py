"""Scaffolding for launchers: ``new`` observatory packages and data-request templates.

Light on import: the functions load pandas and openpyxl only when they run.
"""

from __future__ import annotations

__all__ = ["new_observatory", "write_request_template"]


def __getattr__(name: str) -> object:
    if name == "new_observatory":
        from welfare_observatory.scaffold.observatory import new_observatory

        return new_observatory
    if name == "write_request_template":
        from welfare_observatory.scaffold.request_template import write_request_template

        return write_request_template
    raise AttributeError(name)
