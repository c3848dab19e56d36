"""Governance of an observatory: stakeholders, thematic tables, priorities and actions.

``load_governance(path)`` reads ``governance.yaml`` into frozen models;
``monitor(actions, kb, edition)`` checks each action's indicators against baseline and
target; ``governance_section`` renders the report section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports

if TYPE_CHECKING:
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
    from welfare_observatory.governance.monitoring import monitor
    from welfare_observatory.governance.report_section import governance_section

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


# pandas is imported only when monitoring or rendering is asked for; the models only when
# governance is (the report plugin is imported by every command, a build too).
_MODELS = "welfare_observatory.governance.models"
_ELSEWHERE = {
    "governance_section": "welfare_observatory.governance.report_section",
    "monitor": "welfare_observatory.governance.monitoring",
}
_LAZY = {name: _ELSEWHERE.get(name, _MODELS) for name in __all__}

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
