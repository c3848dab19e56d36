"""The governance page says plainly which followed indicators the edition lacks, and why:
no source of the observatory provides it, or its source gave no publishable value."""

from __future__ import annotations

import html
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from welfare_observatory.config import load_config
from welfare_observatory.governance import governance_section, load_governance
from welfare_observatory.governance.report_section import not_in_edition

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "biella" / "src" / "osserva_biella"


def present(*ids: str) -> pd.DataFrame:
    """A publishable view holding one 2023 value for the province of each of ``ids``."""
    return pd.DataFrame(
        {
            "indicator": list(ids),
            "territory": ["096"] * len(ids),
            "period": ["2023"] * len(ids),
            "period_start": pd.to_datetime(["2023-01-01"] * len(ids)),
            "value": [1.0] * len(ids),
            "sex": ["_T"] * len(ids),
        }
    )


def test_absent_indicators_name_the_sources_that_declare_them() -> None:
    config = load_config(FOLDER)
    followed = load_governance(FOLDER / "governance.yaml").indicator_ids()
    absent = not_in_edition(followed, present("OLD_AGE_INDEX"), config)
    assert "OLD_AGE_INDEX" not in absent and set(absent) == followed - {"OLD_AGE_INDEX"}
    assert absent["POP_15_29"] == ("popolazione",)  # a rule of that source maps it
    assert absent["GENDER_EMPLOYMENT_GAP"] == ()  # no rule of any source names it


def test_the_page_says_what_is_not_built_and_why_in_both_languages() -> None:
    config = load_config(FOLDER)
    followed = load_governance(FOLDER / "governance.yaml").indicator_ids()
    built = present(*(followed - {"GENDER_EMPLOYMENT_GAP", "POP_15_29"}))
    pages = {
        lang: html.unescape(
            governance_section(
                SimpleNamespace(lang=lang, config=config, folder=str(FOLDER), observations=built)
            )
        )
        for lang in ("it", "en")
    }
    en, it = pages["en"], pages["it"]
    assert "Indicators followed with no data in this edition" in en
    assert "(GENDER_EMPLOYMENT_GAP): not built: no source of this observatory provides it" in en
    assert "the catalogue names Eurostat sdg_05_30" in en
    assert "(POP_15_29): not built: source popolazione declares it but gave no publishable" in en
    assert "Indicatori seguiti senza dati in questa edizione" in it
    assert "nessuna fonte dell'osservatorio lo fornisce" in it
    # labels come from the observatory's catalogue: the national baseline's ids included
    assert "Employment rate (20-64)" in en and "BES_03LAV001" not in en


def test_with_everything_built_there_is_no_list() -> None:
    config = load_config(FOLDER)
    followed = load_governance(FOLDER / "governance.yaml").indicator_ids()
    section = SimpleNamespace(
        lang="en", config=config, folder=str(FOLDER), observations=present(*followed)
    )
    assert "no data in this edition" not in governance_section(section)
