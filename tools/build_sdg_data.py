"""Rebuild ``src/welfare_observatory/sdg/data/framework_<version>.json`` from the public files.

Inputs (read-only):

* ``../shared/data/sdg_target_indicator_unsd_2023.csv``: flat goal/target/indicator table
  (UNSD framework after the 2023 refinement, as re-published by do-me/SDG, MIT);
* ``../shared/data/un_sdg_global_indicator_framework_2023.English.xlsx``: the UNSD file itself
  (full goal titles, footnotes, the note on target 11.c);
* ``translations/it/global_goals.yml`` and ``global_targets.yml`` of a checkout of
  https://github.com/open-sdg/sdg-translations (MIT): Italian titles.

Usage (from the repository root)::

    .venv/bin/python tools/build_sdg_data.py \
        --translations ../shared/sdg-translations/translations/it

The output is deterministic (sorted keys, no timestamps), so a rebuild shows up in
``git diff`` only when an input changed.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "src" / "welfare_observatory" / "sdg" / "data"
CSV_NAME = "sdg_target_indicator_unsd_2023.csv"
XLSX_NAME = "un_sdg_global_indicator_framework_2023.English.xlsx"
VERSION = "2023"

# Slips in open-sdg/sdg-translations (it/global_goals.yml commit 8f7d214, it/global_targets.yml
# commit 196a9ec) corrected by the project, each checked against the English UN text and
# listed in sdg/data/README.md: a machine-translation artefact ("DeepL" for "accesso"),
# words read in the wrong sense (social protection "floors" as building floors, bribery as
# "concussione", which is extortion by an official) and calques ("dare potere", "prendere
# azioni", "costruzione di capacità" for capacity-building). Nothing else is changed.
IT_CORRECTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "5": (("e dare potere a tutte", "ed emancipare tutte"),),
    "11": (("sicuri, resistenti e", "sicuri, resilienti e"),),
    "13": (
        ("Prendere azioni urgenti", "Adottare misure urgenti"),
        ("e i suoi impatti", "e le sue conseguenze"),
    ),
    "1.3": (("compresi i pavimenti,", "compresi i livelli minimi di protezione sociale,"),),
    "2.2": (("sull'arresto della crescita", "sul ritardo della crescita"),),
    "2.a": (("nei servizi di estensione", "nei servizi di divulgazione agricola"),),
    "2.c": (("tempestivo DeepL alle", "tempestivo accesso alle"),),
    "3.6": (
        (
            "dimezzare il numero di morti e feriti globali",
            "dimezzare a livello mondiale il numero di morti e feriti",
        ),
    ),
    "5.4": (
        (
            "la cura non retribuita e il lavoro domestico",
            "il lavoro di cura e domestico non retribuito",
        ),
    ),
    "6.a": (("alla costruzione di capacità", "al rafforzamento delle capacità"),),
    "9.a": (("sostenibili e resistenti", "sostenibili e resilienti"),),
    "10.1": (("del 40% inferiore della popolazione", "del 40% più povero della popolazione"),),
    "10.2": (("dare potere e promuovere", "potenziare e promuovere"),),
    "11.c": (("sostenibili e resistenti", "sostenibili e resilienti"),),
    "13.2": (
        ("le misure del cambiamento climatico", "le misure di contrasto al cambiamento climatico"),
    ),
    "15.3": (
        (
            "un mondo neutrale dal degrado della terra",
            "un mondo neutrale rispetto al degrado del suolo",
        ),
    ),
    "16.5": (("la corruzione e la concussione", "la corruzione e le tangenti"),),
    "17.4": (
        ("ridurre la sofferenza del debito", "ridurre le situazioni di sofferenza debitoria"),
    ),
    "17.18": (("alla costruzione di capacità", "al rafforzamento delle capacità"),),
    "17.19": (
        ("la costruzione di capacità statistiche", "il rafforzamento delle capacità statistiche"),
    ),
}
"""Goal or target id -> (wrong, right) replacements in Open SDG's Italian title."""


def correct_italian(sdg_id: str, text: str, *, strict: bool) -> str:
    """``text`` with the project's corrections for ``sdg_id`` applied.

    ``strict`` (a rebuild from Open SDG) fails when a wrong phrase is missing, so a changed
    upstream text is noticed; re-applying to the shipped JSON accepts already-corrected text.
    """
    for wrong, right in IT_CORRECTIONS.get(sdg_id, ()):
        if wrong in text:
            text = text.replace(wrong, right)
        elif strict or right not in text:
            raise ValueError(f"correction for {sdg_id} no longer applies: {wrong!r}")
    return text


IT_PROJECT_TITLES = OUT / "it_project_titles.json"
"""Italian titles translated by the project (UN indicators with no official Italian title)."""

ORIGINS = {
    "open_sdg": "traduzione della comunità Open SDG (sdg-translations, licenza MIT)",
    "open_sdg_corrected": "traduzione della comunità Open SDG, corretta dal progetto",
    "project": "traduzione del progetto dal testo inglese dell'ONU, verificata su di esso; "
    "non è un titolo ufficiale",
}
"""Where an Italian title comes from: the value of a node's ``origin["it"]``."""

_TARGET_ID = re.compile(r"^(1[0-7]|[1-9])\.([0-9]{1,2}|[a-z])$")
_INDICATOR_ID = re.compile(r"^(1[0-7]|[1-9])\.([0-9]{1,2}|[a-z])\.[0-9]{1,2}$")


def clean(text: str | None) -> str:
    """Collapse whitespace (including U+00A0 no-break spaces) and strip."""
    return " ".join((text or "").replace("\u00a0", " ").split())


def strip_footnote(text: str, footnotes: dict[str, str]) -> tuple[str, str]:
    """Split a trailing footnote call ("impacts3") from the text; return (text, footnote)."""
    match = re.search(r"(?<=[a-z])([1-9])$", text)
    if match and match.group(1) in footnotes:
        return text[: match.start()].rstrip(), footnotes[match.group(1)]
    return text, ""


def read_xlsx(path: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str], set[str]]:
    """Goal titles, footnotes, notes by id and the target ids listed in the UNSD workbook."""
    import openpyxl

    with warnings.catch_warnings():
        # openpyxl warns about an Excel extension it does not need here
        warnings.simplefilter("ignore", UserWarning)
        book = openpyxl.load_workbook(path, read_only=True)
        rows = [
            [clean(c) if isinstance(c, str) else "" for c in row]
            for row in book.worksheets[0].iter_rows(values_only=True)
        ]
    footnotes = {
        m.group(1): m.group(2)
        for row in rows
        if len(row) > 1 and (m := re.match(r"^([1-9]) (.+)$", row[1]))
    }
    goals: dict[str, str] = {}
    notes: dict[str, str] = {}
    targets: set[str] = set()
    for row in rows:
        first, second = (row[1], row[2]) if len(row) > 2 else ("", "")
        if m := re.match(r"^Goal (\d+)\. (.+)$", first):
            goals[m.group(1)], note = strip_footnote(m.group(2), footnotes)
            if note:
                notes[m.group(1)] = note
        elif (m := re.match(r"^(\S+) ", first)) and _TARGET_ID.match(m.group(1)):
            targets.add(m.group(1))
            # a target without an indicator carries UNSD's explanation in the indicator cell
            if second and not re.match(r"^\d+\.\w+\.\d+ ", second):
                notes[m.group(1)] = second
    return goals, footnotes, notes, targets


def read_italian(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Italian goal titles, goal short titles and target titles, keyed by dotted id."""
    goals_yml = yaml.safe_load((folder / "global_goals.yml").read_text(encoding="utf-8"))
    targets_yml = yaml.safe_load((folder / "global_targets.yml").read_text(encoding="utf-8"))
    titles: dict[str, str] = {}
    shorts: dict[str, str] = {}
    targets: dict[str, str] = {}
    for key, value in goals_yml.items():
        goal, kind = str(key).split("-", 1)
        if kind == "title":
            titles[goal] = correct_italian(goal, clean(value), strict=True)
        else:
            shorts[goal] = clean(value)
    for key, value in targets_yml.items():
        target_id = str(key).removesuffix("-title").replace("-", ".")
        text = correct_italian(target_id, clean(value), strict=True)
        # open-sdg writes a few targets starting with a lower-case letter
        targets[target_id] = text[:1].upper() + text[1:]
    return titles, shorts, targets


def build(shared: Path, translations: Path) -> dict[str, Any]:
    """The framework as a JSON-ready mapping (goals -> targets -> indicators)."""
    goal_titles, footnotes, notes, xlsx_targets = read_xlsx(shared / XLSX_NAME)
    it_goals, it_shorts, it_targets = read_italian(translations)
    with (shared / CSV_NAME).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))

    goals: dict[str, dict[str, Any]] = {}
    targets: dict[str, dict[str, Any]] = {}
    indicators: list[dict[str, Any]] = []
    for row in rows:
        goal_id, target_id = clean(row["SDGNumber"]), clean(row["TargetsNumber"])
        if not _TARGET_ID.match(target_id) or target_id.split(".")[0] != goal_id:
            raise ValueError(f"unexpected target id {target_id!r} under goal {goal_id!r}")
        goals.setdefault(
            goal_id,
            {
                "id": goal_id,
                "title": {"en": goal_titles[goal_id], "it": it_goals[goal_id]},
                "short": {"en": clean(row["SDGTitle"]), "it": it_shorts[goal_id]},
                "note": notes.get(goal_id, ""),
            },
        )
        if target_id not in targets:
            title, note = strip_footnote(clean(row["Targets"]), footnotes)
            targets[target_id] = {
                "id": target_id,
                "title": {"en": title, "it": it_targets[target_id]},
                "note": note or notes.get(target_id, ""),
            }
        indicator_id = clean(row["IndicatorsNumber"])
        if indicator_id == "0":  # the CSV's placeholder for a target without indicator (11.c)
            continue
        if not _INDICATOR_ID.match(indicator_id) or not indicator_id.startswith(target_id + "."):
            raise ValueError(f"unexpected indicator id {indicator_id!r} under {target_id!r}")
        title, note = strip_footnote(clean(row["Indicators"]), footnotes)
        code = clean(row["UNSDIndicatorCodes"])
        indicators.append(
            {
                "id": indicator_id,
                "title": {"en": title},
                "code": code if re.fullmatch(r"C\w{6}", code) else "",
                "note": note,
            }
        )
    if set(targets) != xlsx_targets:
        raise ValueError(f"CSV and workbook disagree on targets: {set(targets) ^ xlsx_targets}")

    # The same indicator listed under several targets shares its UNSD code and its text.
    groups: dict[str, set[str]] = defaultdict(set)
    for item in indicators:
        groups["text:" + item["title"]["en"].casefold()].add(item["id"])
        if item["code"]:
            groups["code:" + item["code"]].add(item["id"])
    for item in indicators:
        keys = ["text:" + item["title"]["en"].casefold()]
        keys += ["code:" + item["code"]] if item["code"] else []
        others = set().union(*(groups[key] for key in keys)) - {item["id"]}
        item["repeated_in"] = sorted(others, key=_sort_key)

    for item in indicators:
        target_id = item["id"].rsplit(".", 1)[0]
        targets[target_id].setdefault("indicators", []).append(item)
    for target_id, target in targets.items():
        target.setdefault("indicators", [])
        goals[target_id.split(".")[0]].setdefault("targets", []).append(target)
    return {
        "version": VERSION,
        "title": "Global indicator framework for the Sustainable Development Goals and "
        "targets of the 2030 Agenda for Sustainable Development (A/RES/71/313 Annex), "
        "after the 2023 refinement",
        "publisher": "United Nations Statistics Division (UNSD)",
        "url": "https://unstats.un.org/sdgs/indicators/indicators-list/",
        "licence": "United Nations terms of use (https://www.un.org/en/about-us/terms-of-use)",
        "translations": {
            "it": {
                "publisher": "Open SDG, sdg-translations (goals and targets)",
                "url": "https://github.com/open-sdg/sdg-translations",
                "licence": "MIT",
            }
        },
        "goals": sorted(goals.values(), key=lambda g: int(g["id"])),
    }


def add_italian_origins(data: dict[str, Any], project: dict[str, str]) -> None:
    """Record where every Italian title comes from; add the project's indicator titles.

    Goals and targets carry Open SDG's translation (``open_sdg``, or ``open_sdg_corrected``
    where IT_CORRECTIONS applies); indicators listed in ``project`` get that title with
    origin ``project``; an indicator missing there has no Italian title (``sdg show`` then
    answers in English).
    """
    data["translations"]["it"]["origins"] = ORIGINS
    data["translations"]["it"]["publisher"] = (
        "Open SDG, sdg-translations (goals and targets); the project (indicators)"
    )
    for goal in data["goals"]:
        for node in (goal, *goal["targets"]):
            corrected = node["id"] in IT_CORRECTIONS
            node["origin"] = {"it": "open_sdg_corrected" if corrected else "open_sdg"}
            node["title"]["it"] = correct_italian(node["id"], node["title"]["it"], strict=False)
        for target in goal["targets"]:
            for indicator in target["indicators"]:
                title = project.get(indicator["id"])
                if title:
                    indicator["title"]["it"] = title
                    indicator["origin"] = {"it": "project"}
                else:
                    indicator["title"].pop("it", None)
                    indicator.pop("origin", None)


def read_project_titles(path: Path = IT_PROJECT_TITLES) -> dict[str, str]:
    """Indicator id -> Italian title made by the project (``it_project_titles.json``)."""
    if not path.is_file():
        return {}
    titles: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))["titles"]
    return titles


def _sort_key(sdg_id: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (0, p) for p in sdg_id.split("."))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder of the UN files")
    parser.add_argument(
        "--translations",
        type=Path,
        default=REPO.parent / "shared" / "sdg-translations" / "translations" / "it",
        help="translations/it folder of an open-sdg/sdg-translations checkout",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--italian-only",
        action="store_true",
        help="only re-apply corrections, origins and project titles to the shipped JSON "
        "(no UN files or translation checkout needed)",
    )
    args = parser.parse_args(argv)
    if args.italian_only:
        data = json.loads((args.out / f"framework_{VERSION}.json").read_text(encoding="utf-8"))
    else:
        data = build(args.shared, args.translations)
    add_italian_origins(data, read_project_titles())
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"framework_{VERSION}.json"
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    target.write_text(text + "\n", encoding="utf-8")
    n_targets = sum(len(g["targets"]) for g in data["goals"])
    n_indicators = sum(len(t["indicators"]) for g in data["goals"] for t in g["targets"])
    print(f"{target}: {len(data['goals'])} goals, {n_targets} targets, {n_indicators} indicators")
    return 0


if __name__ == "__main__":
    sys.exit(main())
