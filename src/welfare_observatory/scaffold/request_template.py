"""Data-request spreadsheets for local bodies, and reading them back.

``write_request_template`` writes an XLSX with an instructions sheet and one sheet per
requested indicator (see :mod:`welfare_observatory.scaffold.providers` for which). Each
sheet has title rows (label, definition, unit, period) and then one header row and one row
per territory, period and sex, pre-filled: the provider fills ``Valore`` (and ``Stato`` when
a value is provisional, estimated, not available or confidential). Cells carry data
validation (numbers >= 0, whole numbers for counts, a list for ``Stato``).

Next to it, ``<file>.sources.yaml`` holds the ``sources:`` entries (one ``table`` source per
sheet, with its rules) to paste into ``observatory.yaml``: nothing to write by hand.
``check_filled_template`` reads a filled file and names the sheet, row and column of every
bad cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from welfare_observatory.errors import ConfigError, DataError, Location
from welfare_observatory.scaffold.providers import (
    COUNT_UNITS,
    PROVIDER_LABELS,
    PROVIDERS,
    covered_elsewhere,
    requested_indicators,
    sheet_names,
)

if TYPE_CHECKING:
    from welfare_observatory.model import Indicator
    from welfare_observatory.observatory import Observatory

__all__ = [
    "HEADER_ROW",
    "SEXES",
    "STATUS_CHOICES",
    "RequestTemplate",
    "check_filled_template",
    "write_request_template",
]

HEADER_ROW = 6
"""The spreadsheet row of the header in every indicator sheet; data start below it."""
SEXES = {"Maschi": "M", "Femmine": "F", "Totale": "_T"}
STATUS_CHOICES: dict[str, tuple[str, str]] = {
    "provvisorio": ("P", "F"),
    "stimato": ("E", "F"),
    "non disponibile": ("L", "F"),
    "riservato": ("A", "C"),
}
"""``Stato`` -> (OBS_STATUS, CONF_STATUS); an empty ``Stato`` is a normal, free value."""
_INSTRUCTIONS = "Istruzioni"
LEFT_OUT = "Esclusi"
"""The sheet that lists what the provider is not asked for, and why (no Valore column)."""


@dataclass
class RequestTemplate:
    """What was written: the workbook, the sources snippet, and sheet -> indicator."""

    path: Path
    snippet: Path
    provider: str
    sheets: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    left_out: dict[str, str] = field(default_factory=dict)
    """Indicator id -> why the provider is not asked for it (also a sheet of the file)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "snippet": str(self.snippet),
            "provider": self.provider,
            "sheets": self.sheets,
            "rows": self.rows,
            "left_out": self.left_out,
        }


def _periods(observatory: Observatory) -> tuple[int, ...]:
    """The two calendar years before the edition's (or before this year)."""
    edition = observatory.config.edition
    year = int(edition[:4]) if edition[:4].isdigit() else date.today().year
    return (year - 2, year - 1)


def _period_note(indicator: Indicator) -> tuple[str, str | None]:
    reference = str(getattr(indicator.reference_point, "value", indicator.reference_point))
    if reference == "jan_1":
        return "anno: valore al 1° gennaio", "jan_1"
    if reference == "dec_31":
        return "anno: valore al 31 dicembre", "dec_31"
    return "anno: totale dell'anno solare", None


def write_request_template(
    observatory: Observatory | str | Path,
    provider: str,
    out: Path | str | None = None,
    *,
    ask_covered: bool = False,
) -> RequestTemplate:
    """Write the request for ``provider`` (comune, asl, consortium, third_sector).

    The provider is asked only for what the selection needs and no installed source reads
    by municipality for the requested years (see ``covered_elsewhere``); what is left out is
    listed, with the reason, in the sheet ``Esclusi``. ``ask_covered`` asks for it anyway.
    """
    from openpyxl import Workbook

    from welfare_observatory.observatory import Observatory, load_observatory

    if provider not in PROVIDERS:
        raise ConfigError(
            f"unknown provider type {provider!r}",
            location=Location(field="provider"),
            hint="one of: " + ", ".join(PROVIDERS),
        )
    obs = observatory if isinstance(observatory, Observatory) else load_observatory(observatory)
    periods = _periods(obs)
    indicators = requested_indicators(obs, provider)
    left_out: dict[str, str] = {}
    if not ask_covered:
        types = set(obs.plugins.sources())
        for indicator in indicators:
            why = covered_elsewhere(indicator, periods, types, date.today())
            if why is not None:
                left_out[indicator.id] = why
        indicators = [i for i in indicators if i.id not in left_out]
    if not indicators:
        covered = f" ({len(left_out)} covered by installed sources)" if left_out else ""
        raise ConfigError(
            f"the selection of {obs.id!r} asks {provider!r} for no indicator{covered}",
            location=Location(file=str(obs.config_file), field="indicators"),
            hint="add counts this provider holds to indicators.add (see docs/launcher-guide.md)"
            + ("; --ask-covered asks for the covered ones anyway" if left_out else ""),
        )
    path = Path(out) if out is not None else Path(f"richiesta_{obs.id}_{provider}.xlsx")
    from welfare_observatory.territory import registry

    reg = registry()
    territories = [(m.code, m.name) for m in reg.municipalities(of=obs.config.territory.code)]
    names = sheet_names(i.id for i in indicators)
    book = Workbook()
    intro = book.active
    intro.title = _INSTRUCTIONS
    _instructions(intro, obs, provider, indicators, names, periods)
    rows = 0
    for indicator in indicators:
        sheet = book.create_sheet(names[indicator.id])
        rows += _indicator_sheet(sheet, indicator, territories, periods)
    if left_out:
        _left_out_sheet(book.create_sheet(LEFT_OUT), obs, left_out)
    path.parent.mkdir(parents=True, exist_ok=True)
    from welfare_observatory._atomic import atomic_path

    with atomic_path(path) as tmp:
        book.save(tmp)
    snippet = path.with_name(path.name + ".sources.yaml")
    snippet.write_text(_snippet(obs, provider, path, indicators, names), "utf-8", newline="\n")
    return RequestTemplate(
        path=path,
        snippet=snippet,
        provider=provider,
        sheets={names[i.id]: i.id for i in indicators},
        rows=rows,
        left_out=left_out,
    )


def _left_out_sheet(sheet: Any, obs: Observatory, left_out: dict[str, str]) -> None:
    sheet.append(["Indicatori non richiesti: la selezione li usa, ma li dà già una fonte"])
    sheet.append([])
    sheet.append(["Indicatore", "Descrizione", "Perché non è richiesto"])
    for indicator_id, why in left_out.items():
        sheet.append([indicator_id, obs.catalog.get(indicator_id).label.get("it"), why])
    sheet.column_dimensions["B"].width = 50
    sheet.column_dimensions["C"].width = 90


def _instructions(
    sheet: Any,
    obs: Observatory,
    provider: str,
    indicators: list[Indicator],
    names: dict[str, str],
    periods: tuple[int, ...],
) -> None:
    sheet.append([f"Richiesta dati - {obs.config.name.get('it')}"])
    sheet.append([f"Fornitore: {PROVIDER_LABELS[provider].it}"])
    sheet.append([f"Anni richiesti: {', '.join(map(str, periods))}"])
    sheet.append(
        [
            "Compilare la colonna Valore di ogni foglio (numeri, senza formule). "
            "Stato: vuoto se il dato è definitivo, altrimenti " + ", ".join(STATUS_CHOICES) + "."
        ]
    )
    sheet.append([])
    sheet.append(["Foglio", "Indicatore", "Descrizione", "Unità"])
    for indicator in indicators:
        sheet.append(
            [names[indicator.id], indicator.id, indicator.label.get("it"), _unit_it(indicator)]
        )
    sheet.column_dimensions["C"].width = 70


_BREAKDOWNS_IT = {"age": "età", "citizenship": "cittadinanza", "sex": "sesso"}
"""The built-in breakdowns in the words of the (Italian) request."""


def _unit_it(indicator: Indicator) -> str:
    """The unit as the people filling the sheet say it ("persone", not "person")."""
    from welfare_observatory.publish.report.i18n import unit_label

    return unit_label(indicator.unit, "it")


def _indicator_sheet(
    sheet: Any,
    indicator: Indicator,
    territories: list[tuple[str, str]],
    periods: tuple[int, ...],
) -> int:
    from openpyxl.worksheet.datavalidation import DataValidation

    note, _ = _period_note(indicator)
    with_sex = "sex" in indicator.breakdowns
    sheet.append([f"{indicator.label.get('it')} ({indicator.id})"])
    sheet.append([f"Definizione: {indicator.definition.get('it')}"])
    sheet.append([f"Unità: {_unit_it(indicator)}; {note}"])
    others = [_BREAKDOWNS_IT.get(b, b) for b in indicator.breakdowns if b != "sex"]
    extra = f" Disaggregazioni non richieste: {', '.join(others)} (solo totali)." if others else ""
    sheet.append(["Compilare Valore e, se serve, Stato." + extra])
    sheet.append([])
    header = [
        "Codice",
        "Territorio",
        "Periodo",
        *(["Sesso"] if with_sex else []),
        "Valore",
        "Stato",
    ]
    sheet.append(header)
    sexes = list(SEXES) if with_sex else [None]
    count = 0
    for code, name in territories:
        for year in periods:
            for sex in sexes:
                cells = [code, name, str(year), *([sex] if sex else []), None, None]
                sheet.append(cells)
                count += 1
    last = HEADER_ROW + count
    value_col = "E" if with_sex else "D"
    status_col = "F" if with_sex else "E"
    whole = indicator.unit in COUNT_UNITS
    signed = "balance" in indicator.tags
    number = DataValidation(
        type="whole" if whole else "decimal",
        operator="greaterThanOrEqual" if not signed else "between",
        formula1="0" if not signed else "-1000000000",
        formula2=None if not signed else "1000000000",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Valore non valido",
        error="Un numero intero >= 0" if whole and not signed else "Un numero",
    )
    status = DataValidation(
        type="list",
        formula1='"' + ",".join(STATUS_CHOICES) + '"',
        allow_blank=True,
        showErrorMessage=True,
    )
    sheet.add_data_validation(number)
    sheet.add_data_validation(status)
    number.add(f"{value_col}{HEADER_ROW + 1}:{value_col}{last}")
    status.add(f"{status_col}{HEADER_ROW + 1}:{status_col}{last}")
    sheet.column_dimensions["B"].width = 32
    return count


def _snippet(
    obs: Observatory,
    provider: str,
    path: Path,
    indicators: list[Indicator],
    names: dict[str, str],
) -> str:
    try:
        relative = path.resolve().relative_to(obs.folder.resolve()).as_posix()
    except ValueError:
        relative = f"data/{path.name}"
    sources: dict[str, Any] = {}
    for indicator in indicators:
        _, reference = _period_note(indicator)
        with_sex = "sex" in indicator.breakdowns
        rule: dict[str, Any] = {
            "name": f"{provider} request: {indicator.id}",
            "indicator": {"value": indicator.id},
            "territory": {"column": "Codice", "scheme": "istat"},
            "period": {"column": "Periodo", **({"reference_date": reference} if reference else {})},
            "value": {"column": "Valore"},
            "status": {
                "obs_status_column": "Stato",
                "obs_status_map": {k: v[0] for k, v in STATUS_CHOICES.items()},
                "conf_status_column": "Stato",
                "conf_status_map": {k: v[1] for k, v in STATUS_CHOICES.items()},
            },
        }
        if with_sex:
            rule["breakdowns"] = {"sex": {"column": "Sesso", "map": dict(SEXES)}}
        source_id = f"{provider}_{indicator.id.lower()}"
        sources[source_id] = {
            "description": f"{PROVIDER_LABELS[provider].en}: {indicator.label.get('en')}",
            "type": "table",
            "options": {
                "path": relative,
                "format": "xlsx",
                "sheet": names[indicator.id],
                "header_row": HEADER_ROW,
                "header_rows": 1,
                "value_columns": ["Valore"],
                "dtypes": {"Codice": "string", "Periodo": "string"},
            },
            "rules": rule,
        }
    head = (
        f"# Sources for the filled request {path.name} ({provider}), made by\n"
        "# 'welfare-observatory request-template'. Put the filled file at the path below\n"
        "# and paste these entries under 'sources:' in observatory.yaml.\n"
    )
    return head + yaml.safe_dump(sources, allow_unicode=True, sort_keys=False, width=100)


def check_filled_template(path: Path | str) -> list[DataError]:
    """Every bad cell of a filled request: a value that is not a number or breaks the
    sheet's own rule (a negative or fractional count), or a ``Stato`` outside the list.
    Each error names the sheet, row and column (see :mod:`.request_check`)."""
    from welfare_observatory.scaffold.request_check import check_filled

    return check_filled(path)
