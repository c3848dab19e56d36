"""Eurostat bulk TSV (optionally gzip-compressed) to a long pyarrow Table.

The layout Eurostat publishes::

    freq,indic_de,geo\\TIME_PERIOD<TAB>2000 <TAB>2001 ...
    A,JAN,ITC13<TAB>190639 <TAB>: <TAB>... 175341 b

The first column joins the dimensions with commas (its header ends ``\\TIME_PERIOD``, or
``\\time`` in older files); each other column is a period whose label may carry trailing
spaces; each cell is a value and optional flag letters (``175341 b``), or ``:`` when there is
no value (``: c`` when it is confidential).

Output, one row per series and period: one string column per dimension (named as in the
header), ``TIME_PERIOD``, ``OBS_VALUE`` (float64, null when missing), ``OBS_FLAG`` (the flag
letters verbatim, null when none), ``OBS_STATUS`` (SDMX code, see ``FLAG_STATUS``) and
``CONF_STATUS`` (``C`` when the flags hold ``c``, else ``F``). Parsing is vectorized: no
Python loop over rows.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa

from welfare_observatory import Location, ParseError

__all__ = ["FLAG_STATUS", "read_eurostat_tsv"]

FLAG_STATUS: tuple[tuple[str, str], ...] = (
    ("b", "B"),  # break in time series
    ("u", "U"),  # low reliability
    ("e", "E"),  # estimated
    ("s", "E"),  # Eurostat estimate
    ("p", "P"),  # provisional
    ("f", "F"),  # forecast
    ("d", "D"),  # definition differs
    ("n", "N"),  # not significant
)
"""Eurostat flag letter -> SDMX OBS_STATUS, in priority order when a cell has several
(``bep`` -> ``B``). ``r`` (revised) and unknown letters keep status ``A``; the letters
themselves always stay in ``OBS_FLAG``. A missing value is ``O``, or ``M`` with flag ``z``
(not applicable)."""

_CELL = r"^(?P<value>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|:)(?:\s+(?P<flags>[a-z]+))?$"
_GZIP_MAGIC = b"\x1f\x8b"


def gunzip_bounded(data: bytes, limit: int, where: Location) -> bytes:
    """Inflate a gzip body, refusing to produce more than ``limit`` bytes (zip bombs)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ParseError(
            f"corrupt gzip data: {exc}", location=where, hint="download the file again"
        ) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ParseError(
            f"the gzip body inflates past {limit:,} bytes",
            location=where,
            hint="raise max_uncompressed_bytes if the file is genuine",
        )
    if not inflater.eof:
        raise ParseError(
            "the gzip body is truncated", location=where, hint="download the file again"
        )
    return out


def read_eurostat_tsv(
    data: bytes,
    *,
    max_uncompressed_bytes: int = 512 * 1024 * 1024,
    file: str | None = None,
    source: str | None = None,
) -> pa.Table:
    """Parse a Eurostat bulk TSV (plain or gzip) into the long table described above."""
    where = Location(source=source, file=file)
    if data.startswith(_GZIP_MAGIC):
        data = gunzip_bounded(data, max_uncompressed_bytes, where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"not UTF-8 text (byte {data[exc.start : exc.start + 1]!r})",
            location=Location(source=source, file=file, line=data[: exc.start].count(b"\n") + 1),
            hint="Eurostat TSV is UTF-8/ASCII; is this the right file?",
        ) from None
    first_line = text.split("\n", 1)[0]
    head = first_line.split("\t", 1)[0].strip()
    if "\\" not in head or "\t" not in first_line:
        raise ParseError(
            "not a Eurostat TSV: the first header cell must look like 'dim1,dim2\\TIME_PERIOD'",
            location=Location(source=source, file=file, line=1),
            hint="download the dataset as TSV (format=TSV), not SDMX or CSV",
        )
    # The part after the backslash names the period axis; the output calls it TIME_PERIOD.
    dimensions_text = head.rsplit("\\", 1)[0]
    dimensions = [d.strip() for d in dimensions_text.split(",")]
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep="\t",
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise ParseError(
            f"malformed TSV: {str(exc).strip().splitlines()[0]}",
            location=where,
            hint="every line needs the same number of TAB-separated cells",
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    periods = list(frame.columns[1:])
    width = len(dimensions)
    keys = frame.iloc[:, 0].str.strip().str.split(",", expand=True, regex=False)
    if frame.empty:
        keys = pd.DataFrame({i: pd.Series([], dtype=object) for i in range(width)})
    if keys.shape[1] < width:
        wrong = np.ones(len(keys), dtype=bool)
    else:
        extra = keys.iloc[:, width:].notna().any(axis=1)
        wrong = (keys.iloc[:, :width].isna().any(axis=1) | extra).to_numpy(dtype=bool)
    if wrong.any():
        raise ParseError(
            f"a series key does not have {width} parts ({', '.join(dimensions)})",
            location=Location(
                source=source, file=file, line=int(np.flatnonzero(wrong)[0]) + 2, column=head
            ),
            hint="the first column must join one code per dimension with commas",
        )
    keys = keys.iloc[:, :width].set_axis(dimensions, axis=1)
    cells = frame[periods].set_axis(range(len(periods)), axis=1)
    long = cells.melt(ignore_index=False, var_name="period", value_name="cell")
    parts = long["cell"].str.strip().str.extract(_CELL)
    bad_mask = parts["value"].isna()
    if bool(bad_mask.any()):
        first = int(np.flatnonzero(bad_mask.to_numpy(dtype=bool))[0])
        row = int(long.index.to_numpy()[first])
        position = int(long["period"].to_numpy()[first])
        raise ParseError(
            f"cell {long['cell'][bad_mask].iloc[0]!r} is not '<number> [flags]' or ':'",
            location=Location(source=source, file=file, line=row + 2, column=periods[position]),
            hint="Eurostat cells are a value and optional lower-case flags, or ':'",
        )
    # Series-major order: every period of the first series, then the next series.
    order = np.argsort(long.index.to_numpy(), kind="stable")
    return _assemble(keys, long.iloc[order], parts.iloc[order], periods)


def _assemble(
    keys: pd.DataFrame,
    long: pd.DataFrame,
    parts: pd.DataFrame,
    periods: list[str],
) -> pa.Table:
    missing = parts["value"].eq(":")
    values = pd.to_numeric(parts["value"].where(~missing), errors="coerce")
    flags = parts["flags"].fillna("")
    choices = [flags.str.contains(letter, regex=False) for letter, _ in FLAG_STATUS]
    status = np.select(choices, [code for _, code in FLAG_STATUS], default="A").astype(object)
    status = np.where(missing, np.where(flags.str.contains("z"), "M", "O"), status)
    conf = np.where(flags.str.contains("c", regex=False), "C", "F")
    columns: dict[str, pa.Array] = {
        name: pa.array(keys[name].loc[long.index].to_numpy(dtype=object), type=pa.string())
        for name in keys.columns
    }
    period_labels = np.asarray(periods, dtype=object)[long["period"].to_numpy(dtype=int)]
    columns["TIME_PERIOD"] = pa.array(period_labels, type=pa.string())
    columns["OBS_VALUE"] = pa.array(values.to_numpy(dtype="float64"), from_pandas=True)
    columns["OBS_FLAG"] = pa.array(flags.to_numpy(dtype=object), mask=flags.eq("").to_numpy())
    columns["OBS_STATUS"] = pa.array(status, type=pa.string())
    columns["CONF_STATUS"] = pa.array(conf.astype(object), type=pa.string())
    return pa.table(columns)
