"""Fixtures: a hand-made slice of the territory registry, so tests need no package data."""

from __future__ import annotations

from datetime import date

import pytest

from welfare_observatory.harmonize import CodeTable
from welfare_observatory.model import Territory, TerritoryLevel

C, N1, R, P, M = (
    TerritoryLevel.COUNTRY,
    TerritoryLevel.NUTS1,
    TerritoryLevel.REGION,
    TerritoryLevel.PROVINCE,
    TerritoryLevel.MUNICIPALITY,
)


def territories() -> list[Territory]:
    """Italy, two NUTS 1 areas, three regions, four provinces and a few municipalities."""
    t = Territory
    return [
        t(code="IT", level=C, name="Italia"),
        t(code="ITC", level=N1, name="Nord-Ovest", parent="IT"),
        t(code="ITH", level=N1, name="Nord-Est", parent="IT"),
        t(code="01", level=R, name="Piemonte", parent="ITC", nuts2="ITC1"),
        t(code="03", level=R, name="Lombardia", parent="ITC", nuts2="ITC4"),
        t(code="04", level=R, name="Trentino-Alto Adige/Südtirol", parent="ITH"),
        t(code="001", level=P, name="Torino", parent="01", nuts3="ITC11", abbreviation="TO"),
        t(code="096", level=P, name="Biella", parent="01", nuts3="ITC13", abbreviation="BI"),
        t(code="017", level=P, name="Brescia", parent="03", nuts3="ITC47", abbreviation="BS"),
        t(
            code="022",
            level=P,
            name="Trento",
            parent="04",
            nuts3="ITH20",
            istat_code="ITD20",
            abbreviation="TN",
        ),
        t(code="001272", level=M, name="Torino", parent="001", belfiore="L219"),
        t(code="001235", level=M, name="Samone", parent="001", belfiore="H753"),
        t(code="001247", level=M, name="Sant'Antonino di Susa", parent="001", belfiore="I327"),
        t(code="096004", level=M, name="Biella", parent="096", belfiore="A859"),
        t(code="096021", level=M, name="Cossato", parent="096", belfiore="D094"),
        t(code="017029", level=M, name="Brescia", parent="017", belfiore="B157"),
        t(code="022205", level=M, name="Trento", parent="022", belfiore="L378"),
        t(code="022165", level=M, name="Samone", parent="022", belfiore="H754"),
        t(code="022083", level=M, name="Fiavè", parent="022", belfiore="D565"),
        t(
            code="021008",
            level=M,
            name="Bolzano",
            name_other="Bozen",
            parent="021",
            belfiore="A952",
        ),
        t(
            code="041033",
            level=M,
            name="Montecopiolo",
            parent="041",
            belfiore="F478",
            valid_to=date(2021, 6, 16),
        ),
        t(
            code="099030",
            level=M,
            name="Montecopiolo",
            parent="099",
            belfiore="F478",
            valid_from=date(2021, 6, 17),
        ),
    ]


@pytest.fixture(scope="session")
def codes() -> CodeTable:
    return CodeTable(territories())
