"""Writing an edition from Parquet files on disk, for builds larger than memory.

The same layout, manifest, pointer and atomic publish as :func:`store.edition.write_build`
(whose helpers this module reuses), but the observations come as Parquet files (one per
partition of an out-of-core build, with a ``domain`` column) and the large analyses as
lists of files. DuckDB sorts each domain (spilling to ``temp_directory`` past
``memory_limit``) and the sorted rows are streamed into the edition's Parquet file batch by
batch, cast to the canonical schema: memory is bounded by DuckDB's limit and one batch,
never by the edition.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import StoreError
from welfare_observatory.lineage import LineageGraph, digest
from welfare_observatory.model.observation import BASE_COLUMNS, observation_schema
from welfare_observatory.store.edition import (
    DisclosureRecord,
    EditionPointer,
    Manifest,
    SourceRecord,
    combined_digest,
    commit_build,
    dictionary_columns,
    file_sha256,
    write_analysis,
    write_parquet,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from welfare_observatory.build.report import SourceReport
    from welfare_observatory.config import ObservatoryConfig

__all__ = ["build_manifest", "write_partitioned_build"]

BATCH_ROWS = 250_000
"""Rows per batch streamed from DuckDB into an edition file."""


def build_manifest(
    config: ObservatoryConfig,
    *,
    graph: LineageGraph,
    overrides: int,
    sources: Mapping[str, tuple[SourceReport, tuple[str, ...]]],
    versions: Mapping[str, str],
    selection: Sequence[str],
    disclosure: DisclosureRecord | None = None,
    config_json: str | None = None,
    inputs: str | None = None,
) -> Manifest:
    """The manifest of a build (both store writers use it): the build id is made from the
    configuration digest, the sorted lineage step ids, what the manifest records of each
    source (its status, ``reused`` as ``ok``; its payloads, rows, error or reason), the
    disclosure rule's digest and ``inputs`` (the digest of what else the edition read:
    definitions, selection, overrides, sidecars; ``BuildEnvironment.edition_inputs``), so it
    depends on content only, and two builds of one id hold the same edition.

    ``config_json``: the canonical JSON of ``config``'s dump when the caller made it
    already (the build digests it for its saved results): its sha256 is the digest."""
    from welfare_observatory._version import ENGINES, __version__

    if config_json is None:
        config_digest = digest(config.model_dump(mode="json"))
    else:
        config_digest = hashlib.sha256(config_json.encode("utf-8")).hexdigest()
    step_ids = graph.step_ids()
    records = {
        sid: SourceRecord(
            type=report.type,
            status=report.status,
            payloads=payloads,
            rows_in=report.rows_in,
            rows_out=report.rows_out,
            error=report.error,
            reason=report.reason,
        )
        for sid, (report, payloads) in sources.items()
    }
    # What the manifest says of each source is the build's too (a failed source's error
    # leaves no step); reused or made again, a source gave the same rows.
    said = {
        sid: {**record.model_dump(mode="json"), "status": _made(record.status)}
        for sid, record in records.items()
    }
    return Manifest(
        observatory=config.id,
        edition=config.edition,
        build="b-"
        + digest(
            {
                "config": config_digest,
                "disclosure": disclosure.sha256 if disclosure is not None else None,
                "inputs": inputs,
                "sources": said,
                "steps": step_ids,
            }
        )[:16],
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        library_version=__version__,
        plugins={
            k: v for k, v in versions.items() if k != "welfare-observatory" and k not in ENGINES
        },
        engines={k: v for k, v in versions.items() if k in ENGINES},
        config_digest=config_digest,
        reference_date=str(config.territory.reference_date),
        territory=config.territory.code,
        indicators=tuple(selection),
        sources=records,
        overrides=overrides,
        disclosure=disclosure,
    )


def _made(status: str) -> str:
    """A source's status as the build id digests it: ``reused`` counts as ``ok``."""
    return "ok" if status == "reused" else status


def write_partitioned_build(
    kb_root: Path,
    manifest: Manifest,
    *,
    observation_files: Sequence[Path],
    lineage: pa.Table,
    findings: pa.Table,
    analyses: Mapping[str, pa.Table | Sequence[Path]] = {},
    memory_limit: str = "1GB",
    temp_directory: Path | None = None,
) -> EditionPointer:
    """Write a complete build from partition files and point the edition at it.

    ``observation_files`` hold canonical observations with a ``domain`` column and the
    same columns each; an analysis is a table or the files of its parts (concatenated).
    Raises EditionError when the edition is published; on any failure the previous build
    and the pointer are untouched.
    """

    def write(staging: Path) -> dict[str, Any]:
        spill = temp_directory or staging / ".spill"
        tables = {
            "observations": _observations(
                observation_files, staging / "observations", memory_limit, spill
            ),
            "lineage": write_parquet(lineage, staging / "lineage.parquet"),
            "findings": write_parquet(findings, staging / "findings.parquet"),
        }
        shutil.rmtree(staging / ".spill", ignore_errors=True)
        for name, analysis in sorted(analyses.items()):
            tables[f"analyses/{name}"] = (
                _concatenated(analysis, staging / "analyses" / name / "part-0.parquet")
                if isinstance(analysis, list | tuple)
                else write_analysis(analysis, staging, name)
            )
        return tables

    return commit_build(kb_root, manifest, write)


def _connect(memory_limit: str, spill: Path) -> duckdb.DuckDBPyConnection:
    import duckdb

    spill.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        ":memory:", config={"memory_limit": memory_limit, "temp_directory": str(spill)}
    )


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _observations(
    files: Sequence[Path], folder: Path, memory_limit: str, spill: Path
) -> dict[str, Any]:
    """One Parquet file per domain, sorted by indicator, territory, period (then the
    breakdowns, so the order is the same run to run), in the canonical schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not files:
        return {"rows": 0, "sha256": combined_digest([]), "files": []}
    names = pq.read_schema(files[0]).names
    if "domain" not in names:
        raise StoreError("observations need a 'domain' column to be partitioned")
    breakdowns = [n for n in names if n not in BASE_COLUMNS and n != "domain"]
    schema = observation_schema(tuple(breakdowns))
    source = "read_parquet([" + ", ".join(_quoted(str(f)) for f in files) + "])"
    order = ", ".join(f'"{n}"' for n in ["indicator", "territory", "period", *breakdowns])
    con = _connect(memory_limit, spill)
    written: list[str] = []
    digests: list[str] = []
    rows = 0
    try:
        domains = [
            str(row[0])
            for row in con.execute(f"SELECT DISTINCT domain FROM {source} ORDER BY 1").fetchall()
        ]
        for domain in domains:
            path = folder / f"domain={domain}" / "part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            reader = con.sql(
                f"SELECT * EXCLUDE (domain) FROM {source} "
                f"WHERE domain = {_quoted(domain)} ORDER BY {order}"
            ).to_arrow_reader(BATCH_ROWS)
            with pq.ParquetWriter(path, schema, compression="zstd") as writer:
                for batch in reader:
                    part = pa.Table.from_batches([batch]).select(schema.names)
                    writer.write_table(part.cast(schema))
                    rows += batch.num_rows
            written.append(f"domain={domain}/part-0.parquet")
            digests.append(file_sha256(path))
    finally:
        con.close()
    return {"rows": rows, "sha256": combined_digest(digests), "files": written}


def _concatenated(files: Sequence[Path], path: Path) -> dict[str, Any]:
    """The parts of an analysis in one file (the analysis's one part file, ``path``), a part
    at a time, in a unified schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # An empty part may type a column as text where the others have numbers: the schema
    # comes from the parts with rows, and empty parts add nothing to the file.
    filled = [f for f in files if pq.read_metadata(f).num_rows] or list(files[:1])
    schema = pa.unify_schemas([pq.read_schema(f) for f in filled], promote_options="permissive")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with pq.ParquetWriter(
        path, schema, compression="zstd", use_dictionary=dictionary_columns(schema)
    ) as writer:
        for file in filled:
            part = pq.read_table(file)
            for field in schema:
                if field.name not in part.column_names:
                    part = part.append_column(field, pa.nulls(part.num_rows, field.type))
            writer.write_table(part.select(schema.names).cast(schema))
            rows += part.num_rows
    return {"rows": rows, "sha256": combined_digest([file_sha256(path)]), "files": [path.name]}
