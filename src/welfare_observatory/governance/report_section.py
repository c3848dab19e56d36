"""The governance section of the report: stakeholders by type, tables, priorities, actions.

``governance_section(section_input)`` returns an HTML fragment in which every text taken from
``governance.yaml`` or the data is escaped. ``GOVERNANCE_SECTION`` is the
:class:`~welfare_observatory.publish.report.sections.ReportSection` that the plugin module
(:mod:`welfare_observatory.governance.report_plugin`) registers.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory.governance.models import Governance, load_governance
from welfare_observatory.governance.monitoring import NO_DATA, OFF_TRACK, ON_TRACK, monitor
from welfare_observatory.governance.report_plugin import SECTION_TITLE

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SECTION_TITLE", "governance_section", "render_governance"]


_WORDS: dict[str, tuple[str, str]] = {
    "stakeholders": ("Soggetti aderenti per tipo", "Stakeholders by type"),
    "tables": ("Tavoli tematici", "Thematic tables"),
    "members": ("membri", "members"),
    "follows": ("indicatori seguiti", "indicators followed"),
    "priorities": ("Priorità", "Priorities"),
    "actions": ("Azioni co-progettate: monitoraggio", "Co-designed actions: monitoring"),
    "action": ("Azione", "Action"),
    "indicator": ("Indicatore", "Indicator"),
    "territory": ("Territorio", "Territory"),
    "baseline": ("Valore di partenza", "Baseline"),
    "target": ("Obiettivo", "Target"),
    "latest": ("Ultimo valore", "Latest value"),
    "expected": ("Atteso", "Expected"),
    "status": ("Stato", "Status"),
    "target_group": ("destinatari", "target group"),
    "none": ("Nessuna governance dichiarata.", "No governance declared."),
    "absent": (
        "Indicatori seguiti senza dati in questa edizione",
        "Indicators followed with no data in this edition",
    ),
    "no_source": (
        "non costruito: nessuna fonte dell'osservatorio lo fornisce",
        "not built: no source of this observatory provides it",
    ),
    "declared": (
        "non costruito: la fonte {sources} lo dichiara ma non ha dato valori pubblicabili",
        "not built: source {sources} declares it but gave no publishable value",
    ),
    "formula": ("si calcola da {operands}", "computed from {operands}"),
    "provider": ("il catalogo indica {provider}", "the catalogue names {provider}"),
    "to_fill": (
        "Questa pagina si riempie da governance.yaml, nella cartella dell'osservatorio: i "
        "soggetti aderenti e il loro tipo, i tavoli tematici con gli indicatori che seguono, "
        "le priorità dell'edizione e le azioni co-progettate con l'indicatore, il valore di "
        "partenza e l'obiettivo su cui si monitorano. Il file scritto da "
        "welfare-observatory new contiene un esempio commentato.",
        "This page is filled from governance.yaml, in the observatory's folder: the "
        "stakeholders and their type, the thematic tables with the indicators they follow, "
        "the edition's priorities and the co-designed actions with the indicator, baseline "
        "and target they are monitored on. The file written by welfare-observatory new holds "
        "a commented example.",
    ),
    ON_TRACK: ("in linea", "on track"),
    OFF_TRACK: ("non in linea", "off track"),
    NO_DATA: ("dati mancanti", "no data"),
    "public_body": ("enti pubblici", "public bodies"),
    "health_authority": ("aziende sanitarie", "health authorities"),
    "foundation": ("fondazioni", "foundations"),
    "third_sector": ("Terzo settore", "Third Sector"),
    "union": ("sindacati", "unions"),
    "employers": ("associazioni datoriali", "employers"),
    "university": ("università", "universities"),
    "religious_body": ("enti religiosi", "religious bodies"),
    "school": ("scuole", "schools"),
    "other": ("altri", "others"),
}


def _word(key: str, lang: str) -> str:
    it, en = _WORDS[key]
    return it if lang == "it" else en


def governance_section(section_input: Any) -> str:
    """The section for the report (``render`` of the report-section hook).

    ``section_input`` carries ``lang``, ``observations`` (the publishable view), ``config``
    and ``folder`` (see ``publish.report.sections.SectionInput``). Without a governance file
    the section says so.
    """
    lang = getattr(section_input, "lang", "it")
    config = getattr(section_input, "config", None)
    folder = getattr(section_input, "folder", None)
    if config is None or folder is None or not config.governance:
        return _empty(lang)
    from welfare_observatory.config import safe_path

    governance = load_governance(safe_path(Path(folder), config.governance, what="governance"))
    observations = getattr(section_input, "observations", None)
    monitoring = monitor(governance.actions, observations) if observations is not None else None
    absent = None
    if observations is not None:
        absent = not_in_edition(governance.indicator_ids(), observations, config)
    return render_governance(
        governance, monitoring, lang=lang, catalog=_observatory_catalog(folder), absent=absent
    )


def not_in_edition(ids: set[str], observations: Any, config: Any) -> dict[str, tuple[str, ...]]:
    """The indicators of ``ids`` with no row in ``observations`` (the publishable view, Arrow
    or pandas), each with the sources of ``config`` whose rules name it (none: no source
    of the observatory provides it)."""
    if hasattr(observations, "column_names"):
        import pyarrow.compute as pc

        present = set(pc.unique(observations.column("indicator")).cast("string").to_pylist())
    else:
        present = {str(i) for i in observations["indicator"].unique()}
    declared: dict[str, list[str]] = {}
    for source_id, source in (getattr(config, "sources", None) or {}).items():
        for rule in source.rules:
            for indicator_id in rule.indicator_ids():
                declared.setdefault(indicator_id, []).append(source_id)
    return {i: tuple(dict.fromkeys(declared.get(i, ()))) for i in sorted(ids - present)}


def _observatory_catalog(folder: str) -> Any:
    """The observatory's catalogue (plugin catalogues included, so the national baseline's
    ids have their labels); the shipped one when the observatory cannot be loaded."""
    from welfare_observatory.catalog import catalog
    from welfare_observatory.errors import WelfareObservatoryError
    from welfare_observatory.observatory import load_observatory

    try:
        return load_observatory(Path(folder)).catalog
    except (WelfareObservatoryError, OSError):
        return catalog()


def render_governance(
    governance: Governance,
    monitoring: pd.DataFrame | None,
    *,
    lang: str = "it",
    catalog: Any = None,
    absent: dict[str, tuple[str, ...]] | None = None,
) -> str:
    """The HTML fragment for ``governance`` and its actions' monitoring table.

    ``catalog`` gives the indicators' labels (default: the shipped catalogue); ``absent``
    (see :func:`not_in_edition`) lists the followed indicators the edition lacks, each
    said plainly with why, so no table seems to follow data it does not have."""
    if catalog is None:
        from welfare_observatory.catalog import catalog as shipped

        catalog = shipped()
    if not (
        governance.stakeholders or governance.tables or governance.priorities or governance.actions
    ):
        return _empty(lang)
    labels = _labels(catalog, governance.indicator_ids(), lang)
    parts = [f"<section class='governance' lang='{escape(lang)}'>"]
    parts.append(f"<h3>{escape(_word('stakeholders', lang))}</h3><ul>")
    for kind, count in governance.stakeholders_by_type().items():
        parts.append(f"<li>{escape(_word(kind, lang))}: {count}</li>")
    parts.append("</ul>")
    if governance.tables:
        parts.append(f"<h3>{escape(_word('tables', lang))}</h3><dl>")
        for table in governance.tables:
            followed = ", ".join(labels.get(i, i) for i in table.indicators)
            parts.append(
                f"<dt>{escape(table.name.get(lang))}</dt>"
                f"<dd>{len(table.members)} {escape(_word('members', lang))}; "
                f"{escape(_word('follows', lang))}: {escape(followed)}</dd>"
            )
        parts.append("</dl>")
    if absent:
        parts.append(_absent(absent, catalog, labels, lang))
    if governance.priorities:
        parts.append(f"<h3>{escape(_word('priorities', lang))}</h3><ol>")
        for priority in sorted(governance.priorities, key=lambda p: (p.edition, p.rank)):
            parts.append(
                f"<li>{escape(priority.title.get(lang))} ({escape(priority.edition)})"
                + (f": {escape(priority.rationale.get(lang))}" if priority.rationale else "")
                + "</li>"
            )
        parts.append("</ol>")
    if governance.actions:
        parts.append(_actions(governance, monitoring, labels, lang))
    parts.append("</section>")
    return "".join(parts)


def _absent(
    absent: dict[str, tuple[str, ...]], catalog: Any, labels: dict[str, str], lang: str
) -> str:
    """A list of the followed indicators the edition lacks, each with why."""
    parts = [f"<h3>{escape(_word('absent', lang))}</h3><ul class='absent'>"]
    for indicator_id, sources in absent.items():
        if sources:
            reason = _word("declared", lang).format(sources=", ".join(sources))
        else:
            reason = _word("no_source", lang)
        indicator = catalog.get(indicator_id) if indicator_id in catalog else None
        if indicator is not None and indicator.formula is not None:
            operands = f"{indicator.formula.numerator}, {indicator.formula.denominator}"
            reason += f" ({_word('formula', lang).format(operands=operands)})"
        if indicator is not None and not sources:
            provider = indicator.source.publisher + (
                f" {indicator.source.dataset}" if indicator.source.dataset else ""
            )
            reason += f"; {_word('provider', lang).format(provider=provider)}"
        label = labels.get(indicator_id, indicator_id)
        parts.append(f"<li>{escape(label)} ({escape(indicator_id)}): {escape(reason)}</li>")
    parts.append("</ul>")
    return "".join(parts)


def _empty(lang: str) -> str:
    """What a governance page with nothing declared shows: what to fill in, and where."""
    return (
        f"<section class='governance' lang='{escape(lang)}'>"
        f"<p>{escape(_word('none', lang))}</p>"
        f"<p class='note'>{escape(_word('to_fill', lang))}</p></section>"
    )


def _territory(code: str) -> str:
    """The territory's name (the Istat or NUTS code only when the registry lacks it)."""
    from welfare_observatory.territory import registry

    reg = registry()
    return reg.get(code).name if code in reg else code


def _labels(catalog: Any, ids: set[str], lang: str) -> dict[str, str]:
    from welfare_observatory.errors import UnknownIdError

    labels = {}
    for indicator_id in ids:
        try:
            labels[indicator_id] = catalog.get(indicator_id).label.get(lang)
        except UnknownIdError:
            labels[indicator_id] = indicator_id
    return labels


def _number(value: Any, lang: str) -> str:
    """Two decimals in the report's locale (Italian 6.790,00; English 6,790.00)."""
    from welfare_observatory.publish.report.i18n import format_number

    if value is None or value != value:  # None or NaN
        return "–"
    return format_number(float(value), lang, 2)


def _actions(
    governance: Governance, monitoring: pd.DataFrame | None, labels: dict[str, str], lang: str
) -> str:
    heads = ("action", "indicator", "territory", "baseline", "target", "latest", "expected")
    parts = [f"<h3>{escape(_word('actions', lang))}</h3><ul>"]
    for action in governance.actions:
        parts.append(
            f"<li><strong>{escape(action.title.get(lang))}</strong> "
            f"({escape(_word('target_group', lang))}: {escape(action.target_group.get(lang))})</li>"
        )
    parts.append("</ul>")
    if monitoring is None or monitoring.empty:
        return "".join(parts)
    titles = {a.id: a.title.get(lang) for a in governance.actions}
    parts.append("<table><thead><tr>")
    parts += [f"<th>{escape(_word(h, lang))}</th>" for h in (*heads, "status")]
    parts.append("</tr></thead><tbody>")
    for record in monitoring.to_dict("records"):  # one row per action indicator
        row = {str(k): v for k, v in record.items()}
        action_id, indicator = str(row["action"]), str(row["indicator"])
        status = str(row["status"])
        cells = (
            titles.get(action_id, action_id),
            labels.get(indicator, indicator),
            _territory(str(row["territory"])),
            f"{_number(row['baseline_value'], lang)} ({row['baseline_period']})",
            f"{_number(row['target_value'], lang)} ({row['target_year']})",
            f"{_number(row['latest_value'], lang)} ({row['latest_period'] or '–'})",
            _number(row["expected_value"], lang),
            _word(status, lang),
        )
        parts.append(f"<tr class='{escape(status.replace(' ', '-'))}'>")
        parts += [f"<td>{escape(cell)}</td>" for cell in cells]
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)
