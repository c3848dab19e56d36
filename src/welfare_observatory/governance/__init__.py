"""Governance of an observatory: stakeholders, thematic tables, priorities and actions.

``load_governance(path)`` reads ``governance.yaml`` into frozen models;
``monitor(actions, kb, edition)`` checks each action's indicators against baseline and
target; ``governance_section`` renders the report section.
"""

from __future__ import annotations

from welfare_observatory.governance.models import (
    Action,
    ActionIndicator,
    Baseline,
    Governance,
    Priority,
    Stakeholder,
    StakeholderType,
    Target,
    ThematicTable,
    load_governance,
    personal_contact,
)

__all__ = [
    "Action",
    "ActionIndicator",
    "Baseline",
    "Governance",
    "Priority",
    "Stakeholder",
    "StakeholderType",
    "Target",
    "ThematicTable",
    "governance_section",
    "load_governance",
    "monitor",
    "personal_contact",
]


def __getattr__(name: str) -> object:
    # pandas is imported only when monitoring or rendering is asked for.
    if name == "monitor":
        from welfare_observatory.governance.monitoring import monitor

        return monitor
    if name == "governance_section":
        from welfare_observatory.governance.report_section import governance_section

        return governance_section
    raise AttributeError(name)
