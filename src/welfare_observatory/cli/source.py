"""``welfare-observatory source``: try one source (preview) and record its answers (record).

Options come from ``--option key=value`` (dotted keys for nested options, JSON for lists
and objects) or from a source of an observatory (``--observatory``), the command line
overriding the file.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from welfare_observatory.cli._output import json_option, print_fields, print_json, print_table
from welfare_observatory.errors import ConfigError, Location

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.sdk import FetchContext, Payload, Source

RECORD_MANIFEST = "recorded.json"


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("key=value", "headers.Accept=text/csv")`` as a nested dict of options."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"option {pair!r} is not key=value",
                hint="write --option path=data/beds.csv (repeat --option for more)",
            )
        value: Any = raw
        if raw[:1] in ("[", "{"):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"option {key!r}: invalid JSON ({exc.msg})") from None
        *parents, leaf = key.strip().split(".")
        target = options
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"option {key!r} conflicts with a plain value")
        target[leaf] = value
    return options


def _default_cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "welfare-observatory"


def build_source(
    type_or_id: str, options: dict[str, Any], observatory: str | None, base_dir: Path | None
) -> tuple[Source, Path]:
    """The source to run and the folder its local files are read from."""
    from welfare_observatory.sources.manager import Plugins

    if observatory is not None:
        from welfare_observatory.observatory import load_observatory

        obs = load_observatory(observatory)
        if type_or_id in obs.config.sources:
            config = obs.config.sources[type_or_id]
            merged = {**config.options, **options}
            return obs.plugins.create_source(type_or_id, config.type, merged), obs.folder
        manager = obs.plugins
        folder = obs.folder
    else:
        manager = Plugins().load()
        folder = base_dir or Path.cwd()
    return manager.create_source(f"preview_{type_or_id}", type_or_id, options), folder


def _context(
    source_id: str,
    cache: Path | None,
    folder: Path,
    offline: bool,
    refresh: bool,
    *,
    timeout: float = 60.0,
    retries: int = 3,
) -> FetchContext:
    from welfare_observatory.sdk import FetchContext
    from welfare_observatory.sources.http import HttpClient

    def progress(line: str) -> None:
        click.echo(click.style("· ", fg="cyan") + line, err=True)

    return FetchContext.create(
        cache or _default_cache(),
        source=source_id,
        base_dir=folder,
        offline=offline,
        refresh=refresh,
        progress=progress,
        http=HttpClient(timeout=timeout, retries=retries),
    )


def column_summary(table: pa.Table, limit: int = 12) -> list[dict[str, Any]]:
    """Per column: its type, the number of distinct values and the first codes (sorted)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        distinct = pc.unique(column.drop_null())
        entry: dict[str, Any] = {
            "name": name,
            "type": str(column.type),
            "distinct": len(distinct),
            "nulls": column.null_count,
        }
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            entry["codes"] = sorted(distinct.to_pylist())[:limit]
        out.append(entry)
    return out


common = [
    click.argument("type_or_id"),
    click.option("--option", "-o", "option", multiple=True, metavar="KEY=VALUE",
                 help="A source option (repeatable; dotted keys for nested options)."),
    click.option("--observatory", metavar="PATH_OR_NAME",
                 help="Read the source (by id) and its plugins from an observatory."),
    click.option("--dir", "base_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="Folder local files are read from (default: current folder)."),
    click.option("--cache", type=click.Path(file_okay=False, path_type=Path),
                 help="Payload cache folder (default: ~/.cache/welfare-observatory)."),
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
                 show_default=True, help="Seconds to wait for each HTTP answer."),
    click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
                 help="Retries of a failed HTTP request (with backoff)."),
]  # fmt: skip


def _with_common(func: Any) -> Any:
    for decorator in reversed(common):
        func = decorator(func)
    return func


@click.group()
def source() -> None:
    """Try a source from the command line, and record its answers as test fixtures."""


@source.command()
@_with_common
@click.option("--offline", is_flag=True, help="Use cached answers only; never the network.")
@click.option("--refresh", is_flag=True, help="Fetch again even when an answer is cached.")
@click.option(
    "--rows",
    default=10,
    show_default=True,
    type=click.IntRange(min=0, max=1_000_000),
    help="How many rows to show.",
)
@json_option
def preview(
    type_or_id: str,
    option: tuple[str, ...],
    observatory: str | None,
    base_dir: Path | None,
    cache: Path | None,
    timeout: float,
    retries: int,
    offline: bool,
    refresh: bool,
    rows: int,
    as_json: bool,
) -> None:
    """Fetch and parse one source: the first rows and the distinct codes per column.

    TYPE_OR_ID is a source type (sdmx, table, ...) with --option values, or the id of a
    source of the observatory given with --observatory.
    """
    import pyarrow as pa

    src, folder = build_source(type_or_id, parse_options(option), observatory, base_dir)
    ctx = _context(src.id, cache, folder, offline, refresh, timeout=timeout, retries=retries)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        payloads = src.fetch(ctx)
        tables = [_parse_or_forget(src, p, ctx) for p in payloads]
    table = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    notes = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
    summary = column_summary(table)
    head = table.slice(0, rows)
    if as_json:
        print_json(
            {
                "source": src.id,
                "type": src.type,
                "payloads": [_payload_info(p) for p in payloads],
                "rows": table.num_rows,
                "columns": summary,
                "head": head.to_pylist(),
                "warnings": notes,
            }
        )
        return
    for note in notes:
        click.echo(click.style("warning: ", fg="yellow") + note, err=True)
    print_fields(
        [
            ("source", f"{src.id} ({src.type})"),
            ("payloads", len(payloads)),
            ("rows", table.num_rows),
        ]
    )
    print_table(head.column_names, [list(r.values()) for r in head.to_pylist()], title="first rows")
    print_table(
        ["column", "type", "distinct", "nulls", "codes"],
        [
            (c["name"], c["type"], c["distinct"], c["nulls"], ", ".join(c.get("codes", [])))
            for c in summary
        ],
        title="columns",
    )


def _parse_or_forget(src: Source, payload: Payload, ctx: FetchContext) -> pa.Table:
    """Parse ``payload``; an answer that cannot be parsed is dropped from the cache index,
    so that the next run (also with --offline) does not serve the same broken bytes."""
    from welfare_observatory.sources.cache import parse_or_forget

    return parse_or_forget(src.parse, payload, ctx.cache)


def _payload_info(payload: Payload) -> dict[str, Any]:
    return {
        "key": payload.key,
        "sha256": payload.sha256,
        "media_type": payload.media_type,
        # The bytes held are those hashed; the file may have changed since.
        "bytes": len(payload.data) if payload.data is not None else payload.path.stat().st_size,
        "status": payload.meta.get("status"),
    }


_EXT = {"xml": ".xml", "csv": ".csv", "json": ".json", "zip": ".zip", "html": ".html"}


def _file_name(index: int, payload: Payload) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", payload.key.split("://")[-1]).strip("-")[:60]
    ext = next((e for k, e in _EXT.items() if k in payload.media_type), ".bin")
    return f"{index:02d}-{slug or 'payload'}{ext}"


@source.command()
@_with_common
@click.option("--into", "into", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the recorded answers and recorded.json into.")  # fmt: skip
def record(
    type_or_id: str,
    option: tuple[str, ...],
    observatory: str | None,
    base_dir: Path | None,
    cache: Path | None,
    timeout: float,
    retries: int,
    into: Path,
) -> None:
    """Fetch a source live and save its HTTP answers as test fixtures in --into.

    Every HTTP answer the fetch received is saved (an SDMX structure too, not only the data
    payloads ``fetch`` returns), so the recording replays offline. ``recorded.json`` maps
    each request key to its file; the conformance kit reads it with
    ``welfare_observatory.testing.recorded_responses(folder)``. Secrets (env: headers) are
    never written. Answers are fetched fresh into a temporary cache (--cache is not used).
    """
    import tempfile

    src, folder = build_source(type_or_id, parse_options(option), observatory, base_dir)
    with tempfile.TemporaryDirectory(prefix="wo-record-") as scratch:
        ctx = _context(src.id, Path(scratch), folder, False, True, timeout=timeout, retries=retries)
        returned = [p.key for p in src.fetch(ctx)]
        answers = {p.key: p for p in ctx.cache.entries(src.id) if p.url is not None}
        # The payloads fetch returned first, in its order; then the other answers it used.
        order = [k for k in returned if k in answers] + sorted(set(answers) - set(returned))
        _write_recording(src, [answers[k] for k in order], into)


def _write_recording(src: Source, payloads: list[Payload], into: Path) -> None:
    from welfare_observatory.sources.cache import atomic_write

    if not payloads:
        raise ConfigError(
            f"source {src.id!r} fetched nothing over HTTP",
            location=Location(source=src.id),
            hint="local files are fixtures already: copy them into the test folder",
        )
    entries = []
    for index, payload in enumerate(payloads, start=1):
        name = _file_name(index, payload)
        atomic_write(into / name, [payload.read_bytes()])
        entries.append(
            {
                "key": payload.key,
                "file": name,
                "media_type": payload.media_type,
                "status": payload.meta.get("status", "200"),
                "sha256": payload.sha256,
            }
        )
    manifest = {"type": src.type, "options": src.options.model_dump(mode="json"),
                "responses": entries}  # fmt: skip
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    atomic_write(into / RECORD_MANIFEST, [text.encode()])
    click.echo(f"recorded {len(entries)} answers into {into}")
