"""Reading a knowledge base: editions, observations, SQL through DuckDB, diffs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import (
    EditionError,
    Location,
    NewerFormatError,
    StoreError,
    UnknownIdError,
    UnknownIndicatorError,
    UnknownTerritoryError,
)
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.observation import BASE_COLUMNS, KEY_COLUMNS
from welfare_observatory.store import edition as store
from welfare_observatory.store._helpers import (
    distinct_texts,
    ident,
    near_periods,
    quote,
    with_columns,
)

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from welfare_observatory.lineage import LineageGraph

__all__ = ["EditionInfo", "KnowledgeBase", "near_periods"]

Selector = str | Iterable[str] | None


class EditionInfo(Frozen):
    name: str
    build: str
    status: str
    """``draft``, ``published``, or ``unreadable`` (only with ``editions(unreadable=True)``)."""
    created: str
    published: str | None = None
    observations: int = 0
    path: str
    problem: str | None = None
    """Why an unreadable edition cannot be read."""
    hint: str | None = None


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*")
"""An analysis table's name: nothing else is put into a query or a path."""


class KnowledgeBase:
    """A folder of editions. ``KnowledgeBase.open(path)``; every read picks an edition
    (default: the most recently built one)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def open(cls, path: str | Path) -> KnowledgeBase:
        root = Path(path)
        if not root.is_dir():
            raise StoreError(
                f"no knowledge base at {root}",
                location=Location(file=str(root)),
                hint="build one with: welfare-observatory build PATH --out DIR",
            )
        return cls(root)

    # -- editions -------------------------------------------------------------------

    def editions(self, *, unreadable: bool = False) -> list[EditionInfo]:
        """All editions with a complete build, oldest first.

        An edition whose pointer or manifest cannot be read is left out, so one damaged
        edition never hides the others; with ``unreadable=True`` it is listed last with
        status ``unreadable``, the problem and a hint. An edition written by a newer
        library still raises NewerFormatError: the answer is to upgrade, not to skip it.
        """
        infos = []
        damaged = []
        for child in sorted(self.root.iterdir()):
            if not child.is_dir() or child.name.startswith("."):
                continue
            try:
                info = self._info(child)
            except NewerFormatError:
                raise
            except StoreError as exc:
                damaged.append(
                    EditionInfo(
                        name=child.name,
                        build="",
                        status="unreadable",
                        created="",
                        path=str(child),
                        problem=exc.message,
                        hint=exc.hint
                        or "rebuild the edition (welfare-observatory build), or remove "
                        "its folder if it is no longer wanted",
                    )
                )
                continue
            if info is not None:
                infos.append(info)
        readable = sorted(infos, key=lambda info: (info.created, info.name))
        return readable + damaged if unreadable else readable

    def _info(self, child: Path) -> EditionInfo | None:
        pointer = store.read_pointer(child)
        if pointer is None:
            return None
        if not store.is_build_name(pointer.build):
            raise EditionError(
                f"the edition pointer of {child.name!r} names no build of it: {pointer.build!r}",
                location=Location(file=str(child / "EDITION.json")),
                hint="the knowledge base was edited by hand or is damaged: build again",
            )
        manifest = store.load_manifest(child / pointer.build)
        return EditionInfo(
            name=pointer.edition,
            build=pointer.build,
            status=pointer.status,
            created=manifest.created,
            published=pointer.published,
            observations=int(manifest.tables.get("observations", {}).get("rows", 0)),
            path=str(child / pointer.build),
        )

    def edition(self, name: str | None = None) -> EditionInfo:
        """The named edition, or the latest readable one."""
        if name is not None and (Path(name).name != name or name.startswith(".")):
            # A path, not an edition's name: nothing outside the knowledge base is read.
            raise UnknownIdError(name, message=f"no edition {name!r} in {self.root}")
        infos = self.editions()
        if name is not None and name not in {i.name for i in infos}:
            folder = self.root / name
            if folder.is_dir() and not name.startswith("."):
                self._info(folder)  # raises the edition's own error when it is damaged
        if not infos:
            raise EditionError(
                f"the knowledge base at {self.root} has no edition yet",
                hint="build one with: welfare-observatory build PATH --out DIR",
            )
        if name is None:
            return infos[-1]
        for info in infos:
            if info.name == name:
                return info
        raise UnknownIdError(
            name,
            candidates=[i.name for i in infos],
            message=f"no edition {name!r} in {self.root}",
        )

    def manifest(self, edition: str | None = None) -> store.Manifest:
        return store.load_manifest(Path(self.edition(edition).path))

    def publish(self, edition: str) -> EditionInfo:
        """Freeze ``edition``: it can no longer be rebuilt."""
        self.edition(edition)
        store.publish(self.root, edition)
        return self.edition(edition)

    # -- reading --------------------------------------------------------------------

    def path(self, edition: str | None = None) -> Path:
        """The folder of the edition's current build (default: the latest edition).

        Earlier builds of a draft stay next to it (``<kb>/<edition>/b-*``) for diffs, so a
        glob over ``b-*`` reads every row several times: read through this path instead.
        """
        return Path(self.edition(edition).path)

    def files(self, edition: str | None = None) -> list[Path]:
        """The observation Parquet files of the edition's current build, in order: a domain's
        files (``domain=<d>/part-<n>.parquet``, one or more) read in this order are sorted
        by indicator, territory and period."""
        build = self.path(edition)
        manifest = store.load_manifest(build)
        names = manifest.tables.get("observations", {}).get("files", [])
        for name in names:
            parts = Path(str(name)).parts
            if Path(str(name)).is_absolute() or ".." in parts or not parts:
                raise EditionError(
                    f"the manifest of {build} lists a file outside its build: {name!r}",
                    location=Location(file=str(build / "manifest.json")),
                    hint="the knowledge base was edited by hand or is damaged: build again",
                )
        return [build / "observations" / name for name in names]

    def _observation_files(self, edition: str | None) -> list[str]:
        return [str(f) for f in self.files(edition)]

    def values(self, column: str, *, edition: str | None = None) -> list[str]:
        """The distinct values of one observation column (e.g. the indicators built), sorted."""
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        files = self._observation_files(edition)
        if not files:
            return []
        dataset = ds.dataset(files, format="parquet", partitioning="hive")
        if column not in dataset.schema.names:
            raise UnknownIdError(
                column,
                candidates=dataset.schema.names,
                message=f"the observations have no column {column!r}",
            )
        unique = pc.unique(dataset.to_table(columns=[column]).column(column).combine_chunks())
        if hasattr(unique, "dictionary_decode"):
            unique = unique.dictionary_decode()
        return sorted(str(v) for v in unique.to_pylist() if v is not None)

    def to_arrow(
        self,
        indicator: Selector = None,
        territory: Selector = None,
        period: Selector = None,
        *,
        edition: str | None = None,
        strict: bool = True,
        **breakdowns: str | Iterable[str],
    ) -> pa.Table:
        """Observations matching the filters (each a code or a list of codes).

        With ``strict`` (the default), an indicator, territory or period that the edition
        does not hold at all raises UnknownIdError with the closest ids as hint, so an empty
        table means the ids exist but no row matches all the filters together. Callers that
        ask for ids which may legitimately be absent (selected but not built) pass
        ``strict=False``.
        """
        import pyarrow as pa
        import pyarrow.dataset as ds

        files = self._observation_files(edition)
        if not files:
            return pa.table({name: pa.array([], pa.string()) for name in KEY_COLUMNS})
        dataset = ds.dataset(files, format="parquet", partitioning="hive")
        condition: Any = None
        filters = {"indicator": indicator, "territory": territory, "period": period, **breakdowns}
        wanted_by_column: dict[str, list[str]] = {}
        for column, wanted in filters.items():
            if wanted is None:
                continue
            if column not in dataset.schema.names:
                raise UnknownIdError(
                    column,
                    candidates=dataset.schema.names,
                    message=f"the observations have no column {column!r}",
                )
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            wanted_by_column[column] = values
            expression = ds.field(column).isin(values)
            condition = expression if condition is None else condition & expression
        table = dataset.to_table(filter=condition)
        if strict:
            self._check_ids(table, wanted_by_column, edition)
        return table

    def _check_ids(
        self, table: pa.Table, wanted: dict[str, list[str]], edition: str | None
    ) -> None:
        """Raise for requested ids absent from the whole edition (not just from the result).

        Only ids missing from the result are looked up in the full column, so a query whose
        ids all matched costs nothing more.
        """
        errors = {"indicator": UnknownIndicatorError, "territory": UnknownTerritoryError}
        for column in ("indicator", "territory", "period"):
            if column not in wanted:
                continue
            found = set(distinct_texts(table, column))
            missing = [v for v in wanted[column] if v not in found]
            if not missing:
                continue
            known = self.values(column, edition=edition)
            unknown = [v for v in missing if v not in set(known)]
            if not unknown:
                continue
            name = self.edition(edition).name
            error = errors.get(column, UnknownIdError)
            hint = None
            if column == "period":
                hint = "nearest periods: " + ", ".join(near_periods(unknown[0], known))
            raise error(
                unknown[0],
                candidates=known,
                hint=hint,
                message=f"edition {name!r} has no {column} {unknown[0]!r}",
            )

    def observations(
        self,
        indicator: Selector = None,
        territory: Selector = None,
        period: Selector = None,
        *,
        edition: str | None = None,
        strict: bool = True,
        **breakdowns: str | Iterable[str],
    ) -> pd.DataFrame:
        """Observations as a pandas DataFrame (Arrow-backed dtypes); see :meth:`to_arrow`."""
        import pandas as pd

        table = self.to_arrow(
            indicator, territory, period, edition=edition, strict=strict, **breakdowns
        )
        frame: pd.DataFrame = table.to_pandas(types_mapper=pd.ArrowDtype)
        return frame

    def findings(self, edition: str | None = None) -> pd.DataFrame:
        import pyarrow.parquet as pq

        path = Path(self.edition(edition).path) / "findings.parquet"
        frame: pd.DataFrame = pq.read_table(path).to_pandas()
        return frame

    def lineage(self, edition: str | None = None) -> pa.Table:
        import pyarrow.parquet as pq

        return pq.read_table(Path(self.edition(edition).path) / "lineage.parquet")

    def lineage_graph(self, edition: str | None = None) -> LineageGraph:
        """The edition's lineage graph (steps with their parameters) for ``explain``."""
        import json

        from welfare_observatory.lineage import LineageGraph

        records = self.lineage(edition).to_pylist()
        for record in records:
            for name in ("parameters", "versions"):
                if isinstance(record.get(name), str):
                    record[name] = json.loads(record[name])
        return LineageGraph.from_records(records)

    def analysis(self, name: str, edition: str | None = None) -> pd.DataFrame:
        """A stored analysis (``trend``, ``progress``, ...) as the build made it, in its
        row order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = self._analysis_files(edition)
        if name not in files:
            raise UnknownIdError(name, candidates=sorted(files), message=f"no analysis {name!r}")
        tables = [pq.read_table(f) for f in files[name]]
        try:
            table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        except pa.ArrowInvalid as exc:
            raise EditionError(
                f"the files of analysis {name!r} do not have one schema: {exc}",
                location=Location(file=str(files[name][0].parent)),
                hint="the knowledge base was edited by hand or is damaged: build again",
            ) from exc
        frame: pd.DataFrame = table.to_pandas()
        return frame

    def _analysis_files(self, edition: str | None) -> dict[str, list[Path]]:
        """Each stored analysis's files in order, by name (a name put into SQL is plain)."""
        build = self.path(edition)
        found = store.analysis_files(build, store.load_manifest(build))
        return {name: files for name, files in found.items() if _PLAIN_NAME.fullmatch(name)}

    # -- SQL --------------------------------------------------------------------------

    def connect(self, edition: str | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with views ``observations``, ``findings``, ``lineage`` and
        one ``analysis_<name>`` per stored analysis."""
        import duckdb

        info = self.edition(edition)
        base = Path(info.path)
        connection = duckdb.connect()
        files = self._observation_files(info.name)
        if files:
            listing = ", ".join(quote(f) for f in files)
            connection.execute(
                "CREATE VIEW observations AS SELECT * FROM read_parquet("
                f"[{listing}], hive_partitioning = true, union_by_name = true)"
            )
        for name in ("findings", "lineage"):
            quoted = quote(base / f"{name}.parquet")
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({quoted})")
        for name, paths in sorted(self._analysis_files(info.name).items()):
            # Only names the library writes reach the SQL (see _analysis_files).
            listing = ", ".join(quote(p) for p in paths)
            connection.execute(
                f"CREATE VIEW analysis_{name} AS SELECT * FROM read_parquet([{listing}])"
            )
        # The views read this build's files and nothing else can: a query reads, writes or
        # attaches no other file, installs no extension, and cannot undo this.
        connection.execute(f"SET allowed_directories = [{quote(base)}]")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        return connection

    def query(self, sql: str, *, edition: str | None = None) -> pd.DataFrame:
        """Run ``sql`` (DuckDB dialect) against the edition's views (read-only: no file
        outside the edition's build can be read or written)."""
        import duckdb

        if not sql.strip():
            raise StoreError("the query is empty", hint="for example: SELECT * FROM observations")
        connection = self.connect(edition)
        try:
            result = connection.execute(sql)
            if result is None or result.description is None:  # no rows (a comment alone)
                raise StoreError("the query returns no rows", hint="write a SELECT")
            return result.df()
        except duckdb.Error as exc:
            raise StoreError(
                f"query failed: {str(exc).splitlines()[0]}",
                hint="tables: observations, findings, lineage, analysis_<name>",
            ) from exc
        finally:
            connection.close()

    # -- diff -------------------------------------------------------------------------

    def diff(self, a: str, b: str, *, tolerance: float = 0.0) -> pd.DataFrame:
        """Values new in ``b``, removed from ``a``, and revised between them.

        A value is revised when it differs by more than ``tolerance`` (absolute) or its
        status changed. Columns: keys, ``change``, ``value_a``, ``value_b``, ``status_a``,
        ``status_b``.
        """
        import duckdb

        left = self.to_arrow(edition=a)
        right = self.to_arrow(edition=b)
        breakdowns = sorted(
            (set(left.column_names) | set(right.column_names)) - set(BASE_COLUMNS) - {"domain"}
        )
        left = with_columns(left, breakdowns)
        right = with_columns(right, breakdowns)
        keys = [*KEY_COLUMNS, *breakdowns]
        on = " AND ".join(f"l.{ident(k)} IS NOT DISTINCT FROM r.{ident(k)}" for k in keys)
        select_keys = ", ".join(f"coalesce(l.{ident(k)}, r.{ident(k)}) AS {ident(k)}" for k in keys)
        sql = f"""
            SELECT {select_keys},
                CASE WHEN l.indicator IS NULL THEN 'new'
                     WHEN r.indicator IS NULL THEN 'removed'
                     ELSE 'revised' END AS change,
                l.value AS value_a, r.value AS value_b,
                l.obs_status AS status_a, r.obs_status AS status_b
            FROM left_table l FULL OUTER JOIN right_table r ON {on}
            WHERE l.indicator IS NULL OR r.indicator IS NULL
               OR l.obs_status IS DISTINCT FROM r.obs_status
               OR (l.value IS NULL) <> (r.value IS NULL)
               OR abs(l.value - r.value) > {float(tolerance)!r}
            ORDER BY change, {", ".join(ident(k) for k in keys)}
        """
        connection = duckdb.connect()
        try:
            connection.register("left_table", left)
            connection.register("right_table", right)
            return connection.execute(sql).df()
        finally:
            connection.close()
