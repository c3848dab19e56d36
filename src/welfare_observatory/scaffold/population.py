"""The starter data of a new observatory: its residents from the shipped population baseline.

Written the way a municipal statistics office publishes them (``;`` separators, Italian
thousands dots, one row per municipality, year and age class, sexes as columns), so the
new observatory's rules are the same as the examples' and an analyst can swap in a newer
file of the same shape. Age classes are sums of single years of age; where the baseline has
no ages (outside Biella, Brescia and Trento), only the totals are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from welfare_observatory.model.common import Text
from welfare_observatory.territory import UnavailableBreakdownError
from welfare_observatory.territory._population import AGE_CLASSES, NON_WORKING

__all__ = [
    "AGE_CLASSES",
    "BASELINE_YEARS",
    "CLASS_INDICATORS",
    "NON_WORKING",
    "StarterData",
    "age_class_table",
    "write_population_csv",
]

BASELINE_YEARS = (2022, 2023)

# AGE_CLASSES and NON_WORKING are the population baseline's, public in
# welfare_observatory.territory; imported above and kept in __all__ for old imports.

CLASS_INDICATORS: dict[str, str] = {
    "Totale": "POP_TOTAL",
    **{
        label: "POP_" + label.replace("-", "_").replace(" e oltre", "_PLUS")
        for label in AGE_CLASSES
        if label != "Totale"
    },
    NON_WORKING: "POP_NON_WORKING_AGE",
}
"""Age-class label -> catalogue id (``15-49`` is read for women only, as POP_FEMALE_15_49)."""
del CLASS_INDICATORS["15-49"]


@dataclass(frozen=True)
class StarterData:
    """What :func:`write_population_csv` wrote."""

    path: Path
    years: tuple[int, ...]
    with_ages: bool
    rows: int
    description: Text


def age_class_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Single years of age (``territory, year, sex, age, population``, ages ``Y0``..``Y_GE100``)
    to one row per territory, year and class with columns ``M``, ``F``, ``tot``."""
    age = frame["age"].astype(str).str.replace("Y_GE", "Y", regex=False).str[1:].astype(int)
    wide = (
        frame.assign(age=age)
        .pivot_table(
            index=["year", "territory", "age"], columns="sex", values="population", aggfunc="sum"
        )
        .reset_index()
    )
    wide["tot"] = wide["M"] + wide["F"]
    parts = []
    for label, (low, high) in AGE_CLASSES.items():
        inside = wide["age"] >= low
        if high is not None:
            inside &= wide["age"] <= high
        part = wide[inside].groupby(["year", "territory"])[["M", "F", "tot"]].sum()
        parts.append(part.assign(classe=label))
    outside = (wide["age"] <= 14) | (wide["age"] >= 65)
    part = wide[outside].groupby(["year", "territory"])[["M", "F", "tot"]].sum()
    parts.append(part.assign(classe=NON_WORKING))
    table = pd.concat(parts).reset_index()
    order = {label: i for i, label in enumerate([*AGE_CLASSES, NON_WORKING])}
    return (
        table.assign(order=table["classe"].map(order))
        .sort_values(["year", "territory", "order"])
        .drop(columns="order")
        .reset_index(drop=True)
    )


def _baseline(territory: str) -> tuple[pd.DataFrame, bool]:
    from welfare_observatory.territory import population

    frames = []
    with_ages = True
    for year in BASELINE_YEARS:
        try:
            table = population(year, by=("sex", "age"), of=territory)
        except UnavailableBreakdownError:
            with_ages = False
            table = population(year, by=("sex",), of=territory)
        frames.append(table.to_pandas())
    frame = pd.concat(frames, ignore_index=True)
    frame["territory"] = frame["territory"].astype(str)
    frame["sex"] = frame["sex"].astype(str)
    return frame, with_ages


def _thousands(values: pd.Series) -> pd.Series:
    """Italian thousands dots: 42619 -> '42.619' (vectorized on the text)."""
    text = values.astype("int64").astype(str)
    return text.str.replace(r"\B(?=(\d{3})+(?!\d))", ".", regex=True)


def write_population_csv(territory: str, folder: Path) -> StarterData:
    """Write ``popolazione_<territory>_2022_2023.csv`` into ``folder``; return what it holds."""
    from welfare_observatory.territory import registry

    frame, with_ages = _baseline(territory)
    if with_ages:
        table = age_class_table(frame)
    else:
        wide = frame.pivot_table(
            index=["year", "territory"], columns="sex", values="population", aggfunc="sum"
        ).reset_index()
        table = wide.assign(tot=wide["M"] + wide["F"], classe="Totale")
    reg = registry()
    names = {code: reg.get(code).name for code in table["territory"].unique()}
    out = pd.DataFrame(
        {
            "Anno": table["year"].astype(str),
            "Codice comune": table["territory"],
            "Comune": table["territory"].map(names),
            "Classe di età": table["classe"],
            "Maschi": _thousands(table["M"]),
            "Femmine": _thousands(table["F"]),
            "Totale": _thousands(table["tot"]),
        }
    )
    path = folder / f"popolazione_{territory}_{BASELINE_YEARS[0]}_{BASELINE_YEARS[-1]}.csv"
    out.to_csv(path, sep=";", index=False, lineterminator="\n")
    what = "per classe di età e sesso" if with_ages else "per sesso"
    what_en = "by age class and sex" if with_ages else "by sex"
    return StarterData(
        path=path,
        years=BASELINE_YEARS,
        with_ages=with_ages,
        rows=len(out),
        description=Text(
            it=f"Popolazione residente al 1° gennaio per comune, {what}",
            en=f"Resident population on 1 January by municipality, {what_en}",
        ),
    )
