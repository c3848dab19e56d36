"""``welfare-observatory analyze``: progress, composites, benchmarks and early warnings.

The commands read the observations of a knowledge-base edition (``--kb PATH --edition
NAME``, every domain) or a canonical observation file (``--data``, Parquet or CSV); reading
lives in :mod:`welfare_observatory.analyze.reading`. pandas and the analysis modules are
imported inside the commands (fast ``--help``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from welfare_observatory.cli._output import (
    Finite,
    json_option,
    print_fields,
    print_json,
    print_table,
)
from welfare_observatory.cli._territory import territory_callback
from welfare_observatory.errors import (
    AnalysisError,
    Location,
    UnknownIdError,
)

if TYPE_CHECKING:
    import pandas as pd

    from welfare_observatory.model.indicator import Polarity

F = TypeVar("F", bound=Callable[..., Any])


def source_options(func: F) -> F:
    """``--data FILE`` or ``--kb PATH [--edition NAME]``: where the observations come from."""
    options = [
        click.option(
            "--data",
            "data_path",
            default=None,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Canonical observation file (Parquet or CSV) instead of a knowledge base.",
        ),
        click.option(
            "--kb",
            "kb_path",
            default=None,
            type=click.Path(path_type=Path),
            help="Knowledge base folder (default: ./kb when --data is not given).",
        ),
        click.option(
            "--edition", default=None, help="Edition of the knowledge base (default: the latest)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


polarity_option = click.option(
    "--polarity",
    "polarities",
    multiple=True,
    metavar="ID=POLARITY",
    help="Polarity of an indicator (positive, negative, neutral); repeatable. "
    "Indicators not given here are looked up in the shipped catalogue.",
)


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


def _size_dependent(ids: list[str]) -> set[str]:
    """Ids of the shipped catalogue that are counts growing with the territory's size."""
    from welfare_observatory.analyze._common import size_dependent_ids

    catalog = _catalogue()
    if catalog is None:
        return set()
    known = {}
    for key in ids:
        try:
            known[key] = catalog.get(key)
        except UnknownIdError:
            continue
    return size_dependent_ids(known)


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
        shown = shown[[c for c in dict.fromkeys(columns) if c in shown.columns]]
    rows = shown.astype("object").where(shown.notna(), None).itertuples(index=False)
    print_table([str(c) for c in shown.columns], (_fmt(r) for r in rows), title=title)


def _fmt(row: tuple[Any, ...]) -> list[Any]:
    return [f"{v:.4g}" if isinstance(v, float) else v for v in row]


breakdown_option = click.option(
    "--breakdown",
    "chosen",
    multiple=True,
    metavar="DIM=CODE",
    help="Breakdown code to use (e.g. sex=F); repeatable. Other breakdowns: totals (_T).",
)


@click.group()
def analyze() -> None:
    """Progress, composites, benchmarks and early warnings over an edition or a file."""


@analyze.command()
@source_options
@click.option("--indicator", required=True, help="Indicator id.")
@click.option(
    "--territory",
    required=True,
    callback=territory_callback,
    help="Territory: code or name (IT, 096, Cossato, ...).",
)
@breakdown_option
@polarity_option
@click.option(
    "--target",
    type=Finite(),
    help="Quantified target value (Eurostat method).",
)
@click.option("--target-year", type=int, help="Year the target is due.")
@click.option("--horizon", type=click.Choice(["short", "long", "full"]), default="short")
@click.option(
    "--method",
    type=click.Choice(["eurostat", "istat"]),
    default=None,
    help="Progress classes (default: Istat's, as the report; Eurostat's with --target).",
)
@json_option
def progress(
    data_path: Path | None,
    kb_path: Path | None,
    edition: str | None,
    indicator: str,
    territory: str,
    chosen: tuple[str, ...],
    polarities: tuple[str, ...],
    target: float | None,
    target_year: int | None,
    horizon: str,
    method: str | None,
    as_json: bool,
) -> None:
    """Assess the progress of one indicator in one territory."""
    # Istat's classes have no target variant: a target means Eurostat's.
    method = method or ("eurostat" if target is not None else "istat")
    import pandas as pd

    from welfare_observatory.analyze import assess_progress
    from welfare_observatory.analyze._common import years
    from welfare_observatory.analyze.reading import read_frame, select

    frame = select(read_frame(data_path, kb_path, edition, indicators=[indicator]), chosen)
    rows = frame[(frame["indicator"] == indicator) & (frame["territory"] == territory)]
    if rows.empty:
        raise AnalysisError(
            f"no values for indicator {indicator!r} in territory {territory!r}",
            location=Location(file=str(data_path or kb_path or "kb")),
            hint="check the ids with the indicator and territory columns "
            "(and --breakdown for a series without totals)",
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
    labels = dict(item.split("=", 1) for item in chosen)
    if as_json:
        print_json(
            {"indicator": indicator, "territory": territory, **labels, **result.model_dump()}
        )
        return
    suffix = "".join(f", {k}={v}" for k, v in labels.items())
    print_fields(
        [(k, v) for k, v in result.model_dump(mode="json").items()],
        title=f"{indicator} in {territory}{suffix}",
    )


@analyze.command()
@source_options
@click.option(
    "--reference-territory",
    required=True,
    callback=territory_callback,
    help="Territory scoring 100, code or name (e.g. IT).",
)
@click.option("--reference-year", required=True, type=int, help="Base year scoring 100.")
@click.option(
    "--indicator", "indicators", multiple=True, help="Indicator (repeatable; default all)."
)
@polarity_option
@click.option("--penalty", type=click.Choice(["negative", "positive"]), default="negative")
@json_option
def composite(
    data_path: Path | None,
    kb_path: Path | None,
    edition: str | None,
    reference_territory: str,
    reference_year: int,
    indicators: tuple[str, ...],
    polarities: tuple[str, ...],
    penalty: str,
    as_json: bool,
) -> None:
    """Adjusted Mazziotta-Pareto Index of every territory and year (Istat BES method).

    Uses the totals of every breakdown (sex=_T, ...).
    """
    from welfare_observatory.analyze import ampi_components
    from welfare_observatory.analyze._common import years
    from welfare_observatory.analyze.reading import read_frame, select

    wanted = list(indicators) or None
    frame = select(read_frame(data_path, kb_path, edition, indicators=wanted), ())
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
@source_options
@click.option(
    "--territory",
    required=True,
    callback=territory_callback,
    help="The territory of the observatory, code or name.",
)
@click.option(
    "--against",
    multiple=True,
    required=True,
    callback=territory_callback,
    help="Comparison territory, code or name (repeatable).",
)
@click.option("--period", help="Period to compare (default: the latest per indicator).")
@click.option(
    "--indicator", "indicators", multiple=True, help="Indicator (repeatable; default all)."
)
@click.option(
    "--counts",
    type=click.Choice(["exclude", "flag"]),
    default="exclude",
    show_default=True,
    help="Counts that grow with a territory's size (residents, births): leave them out, "
    "or keep them flagged as size_dependent.",
)
@click.option(
    "--lang", type=click.Choice(["it", "en"]), default="it", show_default=True, help="Wording."
)
@polarity_option
@json_option
def benchmark_command(
    data_path: Path | None,
    kb_path: Path | None,
    edition: str | None,
    territory: str,
    against: tuple[str, ...],
    period: str | None,
    indicators: tuple[str, ...],
    counts: str,
    lang: str,
    polarities: tuple[str, ...],
    as_json: bool,
) -> None:
    """Compare a territory with its comparison territories on every indicator."""
    from welfare_observatory.analyze import benchmark
    from welfare_observatory.analyze.reading import breakdown_columns, read_frame

    frame = read_frame(data_path, kb_path, edition, indicators=list(indicators) or None)
    ids = frame["indicator"].dropna().unique().tolist()
    result = benchmark(
        frame,
        territory=territory,
        against=list(against),
        polarity=_polarities(ids, polarities),
        period=period,
        counts=counts,  # type: ignore[arg-type]
        size_dependent=_size_dependent(ids),
    )
    columns = ["indicator", *breakdown_columns(frame), "period", "value", "against_value"]
    columns += [f"text_{lang}", "rank", "n_compared", "quintile"]
    if counts == "flag":
        columns.append("size_dependent")
    _emit(result, as_json, title=f"{territory} against {', '.join(against)}", columns=columns)


@analyze.command(name="warnings")
@source_options
@click.option(
    "--indicator", "indicators", multiple=True, help="Indicator (repeatable; default all)."
)
@polarity_option
@click.option(
    "--z",
    "z_threshold",
    type=Finite(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Robust z.",
)
@click.option("--deterioration", type=float, default=0.0, show_default=True, help="Min. decline.")
@click.option(
    "--window",
    type=click.IntRange(min=2, max=200),
    default=5,
    show_default=True,
    help="Trend window (years).",
)
@click.option("--min-peers", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Rows to show."
)
@json_option
def warnings_command(
    data_path: Path | None,
    kb_path: Path | None,
    edition: str | None,
    indicators: tuple[str, ...],
    polarities: tuple[str, ...],
    z_threshold: float,
    deterioration: float,
    window: int,
    min_peers: int,
    limit: int,
    as_json: bool,
) -> None:
    """Territories much worse than their peers of the same level and deteriorating."""
    from welfare_observatory.analyze import early_warnings
    from welfare_observatory.analyze.reading import breakdown_columns, read_frame

    frame = read_frame(data_path, kb_path, edition, indicators=list(indicators) or None)
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
    columns = ["rank", "territory", "signals", "indicator", *breakdown_columns(frame), "year"]
    columns += ["value", "peer_group", "peer_median", "robust_z", "adjusted_cagr"]
    _emit(result, as_json, title="Early warnings", limit=limit, columns=columns)
