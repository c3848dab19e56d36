"""``welfare-observatory analyze``: progress, composites, benchmarks and early warnings.

The commands read a canonical observation file (``--data``, Parquet or CSV); reading lives in
:func:`load_observations` alone so it can later read a knowledge-base edition instead.
pandas and the analysis modules are imported inside the commands (fast ``--help``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from welfare_observatory.cli._output import json_option, print_fields, print_json, print_table
from welfare_observatory.errors import (
    AnalysisError,
    DataError,
    Location,
    StoreError,
    UnknownIdError,
)

if TYPE_CHECKING:
    import pandas as pd

    from welfare_observatory.model.indicator import Polarity

_KEYS = ("indicator", "territory", "period")
_TOTAL = "_T"

data_option = click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Canonical observation file (Parquet or CSV).",
)
polarity_option = click.option(
    "--polarity",
    "polarities",
    multiple=True,
    metavar="ID=POLARITY",
    help="Polarity of an indicator (positive, negative, neutral); repeatable. "
    "Indicators not given here are looked up in the shipped catalogue.",
)


def load_observations(path: Path) -> pd.DataFrame:
    """A canonical observation table from a Parquet or CSV file, key columns as text."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv", ".txt"):
        raise DataError(
            f"cannot read {path.name}: unknown file type",
            location=Location(file=str(path)),
            hint="pass a .parquet or .csv file with the canonical columns",
        )
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}", location=Location(file=str(path))) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # parser errors are ValueErrors
        raise DataError(
            f"{path.name} is not a readable {suffix[1:]} file: {exc}",
            location=Location(file=str(path)),
            hint="CSV files are UTF-8 with a header row and comma separators",
        ) from exc
    missing = [c for c in (*_KEYS, "value") if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path.name} lacks column(s) {', '.join(missing)}",
            location=Location(file=str(path), column=missing[0]),
            hint="columns: indicator, territory, period, value (and breakdowns, obs_status)",
        )
    for column in frame.columns:
        if column != "value" and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype("string")
    value = pd.to_numeric(frame["value"], errors="coerce")
    bad = value.isna() & frame["value"].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(
            f"value {frame['value'].iloc[row]!r} is not a number",
            location=Location(file=str(path), row=row + 1, column="value"),
            hint="values are plain numbers with a dot as decimal separator",
        )
    frame["value"] = value.astype("float64")
    return frame


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the rows that are totals on every breakdown column."""
    from welfare_observatory.analyze._common import breakdowns

    mask = None
    for column in breakdowns(frame):
        if column in ("obs_status", "conf_status"):
            continue
        is_total = frame[column].astype("string") == _TOTAL
        mask = is_total if mask is None else mask & is_total
    return frame if mask is None else frame[mask.fillna(False)]


def _polarities(ids: list[str], given: tuple[str, ...]) -> dict[str, Polarity]:
    """Polarities from ``--polarity ID=P``, then from the shipped catalogue."""
    from welfare_observatory.analyze._common import as_polarity

    out: dict[str, Polarity] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep:
            raise AnalysisError(
                f"--polarity {item!r} is not ID=POLARITY", hint="e.g. --polarity NEET_RATE=negative"
            )
        out[key.strip()] = as_polarity(value, key=key.strip())
    missing = [i for i in ids if i not in out]
    if missing:
        catalog = _catalogue()
        for key in missing:
            if catalog is None:
                raise AnalysisError(
                    f"no polarity for indicator {key!r}",
                    location=Location(key=key),
                    hint=f"pass --polarity {key}=positive (or negative, neutral)",
                )
            try:
                out[key] = as_polarity(catalog.get(key).polarity, key=key)
            except UnknownIdError as exc:
                raise AnalysisError(
                    f"no polarity for indicator {key!r}: it is not in the catalogue",
                    location=Location(key=key),
                    hint=f"pass --polarity {key}=positive (or negative, neutral)",
                ) from exc
    return out


def _catalogue() -> Any:
    """The shipped catalogue when that module is installed, else None."""
    try:
        module = importlib.import_module("welfare_observatory.catalog")
        return module.catalog()
    except (ImportError, AttributeError):
        return None


def _emit(
    frame: pd.DataFrame,
    as_json: bool,
    *,
    title: str,
    limit: int | None = None,
    columns: list[str] | None = None,
) -> None:
    """All columns as JSON records; ``columns`` (when given) as a table for people."""
    import json

    shown = frame if limit is None else frame.head(limit)
    if as_json:
        print_json(json.loads(shown.to_json(orient="records", force_ascii=False)))
        return
    if columns is not None:
        shown = shown[[c for c in columns if c in shown.columns]]
    rows = shown.astype("object").where(shown.notna(), None).itertuples(index=False)
    print_table([str(c) for c in shown.columns], (_fmt(r) for r in rows), title=title)


def _fmt(row: tuple[Any, ...]) -> list[Any]:
    return [f"{v:.4g}" if isinstance(v, float) else v for v in row]


@click.group()
def analyze() -> None:
    """Progress, composites, benchmarks and early warnings."""


@analyze.command()
@data_option
@click.option("--indicator", required=True, help="Indicator id.")
@click.option("--territory", required=True, help="Territory id (IT, 096, 096004, ...).")
@polarity_option
@click.option("--target", type=float, help="Quantified target value (Eurostat method).")
@click.option("--target-year", type=int, help="Year the target is due.")
@click.option("--horizon", type=click.Choice(["short", "long", "full"]), default="short")
@click.option("--method", type=click.Choice(["eurostat", "istat"]), default="eurostat")
@json_option
def progress(
    data_path: Path,
    indicator: str,
    territory: str,
    polarities: tuple[str, ...],
    target: float | None,
    target_year: int | None,
    horizon: str,
    method: str,
    as_json: bool,
) -> None:
    """Assess the progress of one indicator in one territory."""
    import pandas as pd

    from welfare_observatory.analyze import assess_progress
    from welfare_observatory.analyze._common import years

    frame = _totals(load_observations(data_path))
    rows = frame[(frame["indicator"] == indicator) & (frame["territory"] == territory)]
    if rows.empty:
        raise AnalysisError(
            f"no values for indicator {indicator!r} in territory {territory!r}",
            location=Location(file=str(data_path)),
            hint="check the ids with the file's indicator and territory columns",
        )
    series = pd.Series(rows["value"].to_numpy(), index=years(rows).to_numpy())
    result = assess_progress(
        series,
        polarity=_polarities([indicator], polarities)[indicator],
        target=target,
        target_year=target_year,
        horizon=horizon,  # type: ignore[arg-type]
        method=method,  # type: ignore[arg-type]
    )
    if as_json:
        print_json({"indicator": indicator, "territory": territory, **result.model_dump()})
        return
    print_fields(
        [(k, v) for k, v in result.model_dump(mode="json").items()],
        title=f"{indicator} in {territory}",
    )


@analyze.command()
@data_option
@click.option("--reference-territory", required=True, help="Territory scoring 100 (e.g. IT).")
@click.option("--reference-year", required=True, type=int, help="Base year scoring 100.")
@click.option(
    "--indicator", "indicators", multiple=True, help="Indicator (repeatable; default all)."
)
@polarity_option
@click.option("--penalty", type=click.Choice(["negative", "positive"]), default="negative")
@json_option
def composite(
    data_path: Path,
    reference_territory: str,
    reference_year: int,
    indicators: tuple[str, ...],
    polarities: tuple[str, ...],
    penalty: str,
    as_json: bool,
) -> None:
    """Adjusted Mazziotta-Pareto Index of every territory and year (Istat BES method)."""
    from welfare_observatory.analyze import ampi_components
    from welfare_observatory.analyze._common import years

    frame = _totals(load_observations(data_path))
    if indicators:
        frame = frame[frame["indicator"].isin(list(indicators))]
    frame = frame.assign(year=years(frame))
    wide = frame.pivot_table(
        index=["territory", "year"], columns="indicator", values="value", aggfunc="first"
    )
    ids = [str(c) for c in wide.columns]
    parts = ampi_components(
        wide,
        polarity=_polarities(ids, polarities),
        reference=(reference_territory, reference_year),
        penalty=penalty,  # type: ignore[arg-type]
    )
    _emit(parts.reset_index(), as_json, title="AMPI")


@analyze.command(name="benchmark")
@data_option
@click.option("--territory", required=True, help="The territory of the observatory.")
@click.option("--against", multiple=True, required=True, help="Comparison territory (repeatable).")
@click.option("--period", help="Period to compare (default: the latest per indicator).")
@click.option("--lang", type=click.Choice(["en", "it"]), default="en", help="Table wording.")
@polarity_option
@json_option
def benchmark_command(
    data_path: Path,
    territory: str,
    against: tuple[str, ...],
    period: str | None,
    lang: str,
    polarities: tuple[str, ...],
    as_json: bool,
) -> None:
    """Compare a territory with its comparison territories on every indicator."""
    from welfare_observatory.analyze import benchmark

    frame = load_observations(data_path)
    ids = frame["indicator"].dropna().unique().tolist()
    result = benchmark(
        frame,
        territory=territory,
        against=list(against),
        polarity=_polarities(ids, polarities),
        period=period,
    )
    columns = ["indicator", "period", "value", "against_value", f"text_{lang}", "rank"]
    columns += ["n_compared", "quintile"]
    _emit(result, as_json, title=f"{territory} against {', '.join(against)}", columns=columns)


@analyze.command(name="warnings")
@data_option
@click.option(
    "--indicator", "indicators", multiple=True, help="Indicator (repeatable; default all)."
)
@polarity_option
@click.option("--z", "z_threshold", type=float, default=2.0, show_default=True, help="Robust z.")
@click.option("--deterioration", type=float, default=0.0, show_default=True, help="Min. decline.")
@click.option("--window", type=int, default=5, show_default=True, help="Trend window (years).")
@click.option("--min-peers", type=int, default=5, show_default=True)
@click.option("--limit", type=int, default=50, show_default=True, help="Rows to show.")
@json_option
def warnings_command(
    data_path: Path,
    indicators: tuple[str, ...],
    polarities: tuple[str, ...],
    z_threshold: float,
    deterioration: float,
    window: int,
    min_peers: int,
    limit: int,
    as_json: bool,
) -> None:
    """Territories much worse than their peers and deteriorating (preventive welfare)."""
    from welfare_observatory.analyze import early_warnings

    frame = load_observations(data_path)
    ids = list(indicators) or frame["indicator"].dropna().unique().tolist()
    result = early_warnings(
        frame,
        catalog=_polarities(ids, polarities),
        indicators=ids,
        z_threshold=z_threshold,
        deterioration=deterioration,
        window=window,
        min_peers=min_peers,
    )
    columns = ["rank", "territory", "signals", "indicator", "year", "value", "peer_median"]
    columns += ["robust_z", "adjusted_cagr"]
    _emit(result, as_json, title="Early warnings", limit=limit, columns=columns)
