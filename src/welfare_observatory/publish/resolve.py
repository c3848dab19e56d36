"""Which observatory and which disclosure rule an edition is published with.

``publish`` and ``report`` both call :func:`resolve_publication`, so an edition never shows
in the site what its open data suppresses. The rule, in order:

1. a rule file given explicitly (``--disclosure``), or a rule object (the API);
2. the observatory's own ``disclosure:`` file: the observatory given (``--observatory``), else
   the installed package whose id built the edition;
3. the default :class:`~welfare_observatory.protect.DisclosureRule`, but only when the
   edition's manifest names no rule of its own. When it names one and no observatory is found
   (or the one found declares none), publishing is refused: the default rule may show what
   the observatory chose to suppress.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import PublishError

if TYPE_CHECKING:
    from welfare_observatory.observatory import Observatory
    from welfare_observatory.protect import DisclosureRule
    from welfare_observatory.store import KnowledgeBase

__all__ = ["Publication", "resolve_publication"]


@dataclass(frozen=True)
class Publication:
    """The observatory (None when neither given nor installed) and the rule to apply."""

    edition: str
    observatory: Observatory | None
    rule: DisclosureRule
    rule_from: str
    """Where the rule came from, in words (for notes and ``--json``)."""
    notes: tuple[str, ...] = ()


def resolve_publication(
    kb: KnowledgeBase,
    edition: str | None = None,
    *,
    observatory: Observatory | str | Path | None = None,
    disclosure: Path | None = None,
    rule: DisclosureRule | None = None,
    settings: dict[str, Any] | None = None,
) -> Publication:
    """The observatory and disclosure rule for ``edition`` (default: the latest).

    ``settings`` (e.g. ``{"threshold": 5}``) are applied on top of a rule read from a file
    or the default. Raises PublishError when the edition's manifest names a rule of the
    observatory's and no rule can be found (see the module docstring).
    """
    from welfare_observatory.observatory import load_observatory
    from welfare_observatory.protect import DisclosureRule, load_rule
    from welfare_observatory.publish.provenance import installed_observatory

    extra = dict(settings or {})
    name = kb.edition(edition).name
    manifest = kb.manifest(name)
    recorded = manifest.disclosure
    if isinstance(observatory, str | Path):
        obs: Observatory | None = load_observatory(observatory)
    else:
        obs = observatory if observatory is not None else installed_observatory(kb, name)

    if rule is not None:
        chosen = rule.model_copy(update=extra) if extra else rule
        return Publication(name, obs, chosen, "the rule given")
    if disclosure is not None:
        return Publication(name, obs, load_rule(disclosure, **extra), str(disclosure))
    if obs is not None and obs.config.disclosure is not None:
        path = obs.path(obs.config.disclosure, what="disclosure")
        notes: tuple[str, ...] = ()
        if recorded is not None and _sha256(path) != recorded.sha256:
            notes = (
                f"the disclosure rule {obs.config.disclosure} of {obs.id} changed after edition "
                f"{name} was built; the current file is applied",
            )
        return Publication(
            name, obs, load_rule(path, **extra), f"{obs.id}: {obs.config.disclosure}", notes
        )
    if recorded is not None:
        where = (
            f"observatory {obs.id} ({obs.folder}) declares no disclosure rule"
            if obs is not None
            else f"observatory {manifest.observatory!r} is not installed and was not given"
        )
        raise PublishError(
            f"edition {name} was built with its observatory's own disclosure rule "
            f"({recorded.file}), but {where}: the default rule could show what it suppresses",
            hint="give the observatory that built it (--observatory FOLDER or package) or the "
            "rule file (--disclosure FILE)",
        )
    return Publication(name, obs, DisclosureRule.model_validate(extra), "the default rule")


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
