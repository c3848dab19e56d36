"""Reading a knowledge base: editions, observations, SQL through DuckDB, diffs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import EditionError, Location, StoreError, UnknownIdError
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.observation import BASE_COLUMNS, KEY_COLUMNS, TOTAL
from welfare_observatory.store import edition as store

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from welfare_observatory.lineage import LineageGraph

__all__ = ["EditionInfo", "KnowledgeBase"]

Selector = str | Iterable[str] | None


class EditionInfo(Frozen):
    name: str
    build: str
    status: str
    created: str
    published: str | None = None
    observations: int = 0
    path: str


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

    def editions(self) -> list[EditionInfo]:
        """All editions with a complete build, oldest first."""
        infos = []
        for child in sorted(self.root.iterdir()):
            if not child.is_dir() or child.name.startswith("."):
                continue
            pointer = store.read_pointer(child)
            if pointer is None:
                continue
            manifest = store.load_manifest(child / pointer.build)
            infos.append(
                EditionInfo(
                    name=pointer.edition,
                    build=pointer.build,
                    status=pointer.status,
                    created=manifest.created,
                    published=pointer.published,
                    observations=int(manifest.tables.get("observations", {}).get("rows", 0)),
                    path=str(child / pointer.build),
                )
            )
        return sorted(infos, key=lambda info: (info.created, info.name))

    def edition(self, name: str | None = None) -> EditionInfo:
        """The named edition, or the latest one."""
        infos = self.editions()
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

    def _observation_files(self, edition: str | None) -> list[str]:
        info = self.edition(edition)
        manifest = store.load_manifest(Path(info.path))
        files = manifest.tables.get("observations", {}).get("files", [])
        return [str(Path(info.path) / "observations" / f) for f in files]

    def to_arrow(
        self,
        indicator: Selector = None,
        territory: Selector = None,
        period: Selector = None,
        *,
        edition: str | None = None,
        **breakdowns: str | Iterable[str],
    ) -> pa.Table:
        """Observations matching the filters (each a code or a list of codes)."""
        import pyarrow as pa
        import pyarrow.dataset as ds

        files = self._observation_files(edition)
        if not files:
            return pa.table({name: pa.array([], pa.string()) for name in KEY_COLUMNS})
        dataset = ds.dataset(files, format="parquet", partitioning="hive")
        condition: Any = None
        filters = {"indicator": indicator, "territory": territory, "period": period, **breakdowns}
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
            expression = ds.field(column).isin(values)
            condition = expression if condition is None else condition & expression
        return dataset.to_table(filter=condition)

    def observations(
        self,
        indicator: Selector = None,
        territory: Selector = None,
        period: Selector = None,
        *,
        edition: str | None = None,
        **breakdowns: str | Iterable[str],
    ) -> pd.DataFrame:
        """Observations as a pandas DataFrame (Arrow-backed dtypes)."""
        import pandas as pd

        table = self.to_arrow(indicator, territory, period, edition=edition, **breakdowns)
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
        import pyarrow.parquet as pq

        path = Path(self.edition(edition).path) / "analyses" / f"{name}.parquet"
        if not path.exists():
            available = [p.stem for p in path.parent.glob("*.parquet")]
            raise UnknownIdError(name, candidates=available, message=f"no analysis {name!r}")
        frame: pd.DataFrame = pq.read_table(path).to_pandas()
        return frame

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
            listing = ", ".join(_quote(f) for f in files)
            connection.execute(
                "CREATE VIEW observations AS SELECT * FROM read_parquet("
                f"[{listing}], hive_partitioning = true, union_by_name = true)"
            )
        for name in ("findings", "lineage"):
            quoted = _quote(base / f"{name}.parquet")
            connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({quoted})")
        for path in sorted((base / "analyses").glob("*.parquet")):
            connection.execute(
                f"CREATE VIEW analysis_{path.stem} AS SELECT * FROM read_parquet({_quote(path)})"
            )
        return connection

    def query(self, sql: str, *, edition: str | None = None) -> pd.DataFrame:
        """Run ``sql`` (DuckDB dialect) against the edition's views."""
        import duckdb

        connection = self.connect(edition)
        try:
            return connection.execute(sql).df()
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
        left = _with_columns(left, breakdowns)
        right = _with_columns(right, breakdowns)
        keys = [*KEY_COLUMNS, *breakdowns]
        on = " AND ".join(f"l.{_ident(k)} IS NOT DISTINCT FROM r.{_ident(k)}" for k in keys)
        select_keys = ", ".join(
            f"coalesce(l.{_ident(k)}, r.{_ident(k)}) AS {_ident(k)}" for k in keys
        )
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
            ORDER BY change, {", ".join(_ident(k) for k in keys)}
        """
        connection = duckdb.connect()
        try:
            connection.register("left_table", left)
            connection.register("right_table", right)
            return connection.execute(sql).df()
        finally:
            connection.close()


def _with_columns(table: pa.Table, breakdowns: list[str]) -> pa.Table:
    """Plain-string keys, with absent breakdown columns filled with the total code."""
    import pyarrow as pa

    columns = {}
    for name in [*KEY_COLUMNS, *breakdowns, "value", "obs_status"]:
        if name in table.column_names:
            column = table.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            columns[name] = column
        else:
            columns[name] = pa.array([TOTAL] * table.num_rows, pa.string())
    return pa.table(columns)


def _quote(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
