"""Common short forms of official names, for look-up only (never displayed).

Istat's list holds one official name per territory; people, newspapers and some official
outputs write shorter or older forms. Each entry names the territories it stands for and
why the form is safe: it names nothing else in force. ``test_every_alias_is_unambiguous``
keeps that true when the data is rebuilt.
"""

from __future__ import annotations

__all__ = ["NAME_ALIASES"]

NAME_ALIASES: dict[str, tuple[tuple[str, ...], str]] = {
    # alias: (territory codes, rationale)
    "Reggio Emilia": (
        ("035", "035033"),
        "usual form of Reggio nell'Emilia; Istat itself uses it in CL_ITTER107 "
        "(T08035 'Distretto di Reggio Emilia')",
    ),
    "Monza Brianza": (("108",), "usual form of the province of Monza e della Brianza"),
    "Monza e Brianza": (("108",), "usual form; CL_ITTER107 ATO96 'Provincia di Monza e Brianza'"),
    "Pesaro Urbino": (("041",), "usual form of the province of Pesaro e Urbino"),
    "Aoste": (("007003",), "French name of the comune of Aosta (bilingual region)"),
    "Alto Adige": (("021",), "Italian name of the province of Bolzano as a territory"),
    "Südtirol": (("021",), "German name of the province of Bolzano as a territory"),
    "Trentino": (("022",), "usual name of the autonomous province of Trento"),
}
