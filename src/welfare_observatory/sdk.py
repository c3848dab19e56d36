"""The plugin author's API: hook marker, the Source base class and registration types.

A plugin is a module with functions marked ``@hookimpl`` named after the hook specs
(``register_sources``, ``register_units``, ``register_catalogs``, ``register_codelists``).
Each receives a ``register`` callback; the core checks what it is given, rejects duplicate
ids and records which distribution provided it::

    from welfare_observatory.sdk import hookimpl, Source, SourceOptions

    @hookimpl
    def register_sources(register):
        register(MySource)

A source has a pydantic ``Options`` model (what the observatory YAML may say about it),
``fetch`` (the only method that does I/O, always through :class:`FetchContext`, which caches
and rate-limits) and ``parse`` (payload bytes to a pyarrow Table in the source's own codes;
deterministic and offline).

This module stays light: pyarrow and the HTTP/cache machinery are imported lazily.
"""

from __future__ import annotations

import abc
import builtins
import dataclasses
import hashlib
import mimetypes
import os
import re
import stat
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, cast

import pluggy
from pydantic import ValidationError
from typing_extensions import TypeVar

from welfare_observatory._hooktypes import Exporter, ReportSection, SectionInput
from welfare_observatory.errors import (
    ConfigError,
    FetchError,
    Location,
    ParseError,
    closest,
)
from welfare_observatory.model.common import Frozen

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.sources.cache import Cache
    from welfare_observatory.sources.http import HttpClient

__all__ = [
    "HELD_FILE_BYTES",
    "PROJECT",
    "Exporter",
    "FetchContext",
    "OptionsT",
    "Payload",
    "Progress",
    "RegisterCatalog",
    "RegisterCheck",
    "RegisterCodelist",
    "RegisterExporter",
    "RegisterReportSection",
    "RegisterSource",
    "RegisterUnit",
    "ReportSection",
    "SectionInput",
    "Source",
    "SourceOptions",
    "SourceWarning",
    "hookimpl",
]

PROJECT = "welfare_observatory"
"""The pluggy project name and the entry-point group of plugins every observatory may use."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin function as the implementation of the hook spec of the same name."""

SOURCE_TYPE = re.compile(r"^[a-z][a-z0-9_]*$")
"""A source type name: lower_snake_case (``sdmx``, ``table``, ``asl_biella``)."""


class SourceWarning(UserWarning):
    """Something a source noticed that is not an error (an empty answer, a dropped row)."""


class SourceOptions(Frozen):
    """Base of every source's options model: frozen, unknown keys are errors."""


@dataclass(frozen=True, slots=True)
class Payload:
    """Raw bytes a source fetched, named by their sha256: an answer stored in the cache
    (``path`` is its copy there), or a local file read by :meth:`FetchContext.read_file`
    (``path`` is the file; up to :data:`HELD_FILE_BYTES` its bytes are held in ``data``,
    as read and hashed, and the cache keeps no copy).

    ``key`` identifies the request (the URL with its parameters, or ``file:<relative
    path>``); time lives only in ``meta`` (``fetched_at``), never in ids.
    """

    source: str
    key: str
    sha256: str
    path: Path
    media_type: str = "application/octet-stream"
    meta: Mapping[str, str] = field(default_factory=dict)
    data: bytes | None = field(default=None, repr=False, compare=False)
    """The bytes, when they were read into memory as they were hashed (a local file)."""

    def read_bytes(self) -> bytes:
        """The bytes whose digest is :attr:`sha256`."""
        return self.data if self.data is not None else self.path.read_bytes()

    @property
    def url(self) -> str | None:
        """The URL the bytes came from, when they came from the network."""
        return self.meta.get("url")

    @property
    def origin(self) -> str:
        """The URL or the file the bytes came from, for error messages."""
        return self.meta.get("url") or self.meta.get("path") or self.key

    @property
    def status(self) -> int | None:
        """The HTTP status, when the bytes came from the network."""
        status = self.meta.get("status")
        return int(status) if status is not None and status.isdigit() else None


Progress = Callable[[str], None]
"""A callback that receives one short human-readable line per step (``GET <url>``)."""

RegisterSource = Callable[[type["Source[Any]"]], None]
"""What ``register_sources`` receives: call it once per Source subclass."""

RegisterUnit = Callable[[str], None]
"""What ``register_units`` receives: call it with one pint definition line
(``"bed_place = bed"``)."""

RegisterCatalog = Callable[[Path], None]
"""What ``register_catalogs`` receives: call it with the path of a catalogue YAML file."""

RegisterCodelist = Callable[[str, Mapping[str, str]], None]
"""What ``register_codelists`` receives: call it with a name and a {code: label} mapping."""

RegisterCheck = Callable[[str, Callable[..., Any]], None]
"""What ``register_checks`` receives: ``register("myplugin.totals", check)`` where
``check(table, context)`` returns a list of :class:`~welfare_observatory.Finding`
(see :mod:`welfare_observatory.validate.checks`)."""

RegisterExporter = Callable[..., None]
"""What ``register_exporters`` receives: ``register(name, exporter, description="")`` where
``exporter(view, meta, out)`` writes files into ``out`` and returns their paths
(see :mod:`welfare_observatory.publish.registry`)."""

RegisterReportSection = Callable[[Any], None]
"""What ``register_report_sections`` receives: ``register(ReportSection(...))``
(see :mod:`welfare_observatory.publish.report.sections`)."""


@dataclass(frozen=True)
class FetchContext:
    """What ``Source.fetch`` may use for I/O: the cache, the HTTP client and the folder.

    ``source`` is the id of the source the context fetches for (payloads are indexed under
    it); runners build one per source with :meth:`for_source`. Offline mode never touches
    the network; refresh ignores cached answers.
    """

    cache: Cache
    http: HttpClient
    offline: bool = False
    refresh: bool = False
    base_dir: Path | None = None
    progress: Progress | None = None
    source: str = ""
    _base_cache: list[Any] = field(default_factory=list, repr=False, compare=False)
    """``[base_dir, its real path]`` once resolved, shared by the contexts
    :meth:`for_source` makes (see :meth:`_real_base`)."""
    _reads: list[Any] | None = field(default=None, repr=False, compare=False)
    """When a list (the build's), each file :meth:`read_file` read: ``(payload, path, its
    stat when read)``, the stat None when the path went through a symbolic link; for the
    build's note of what a source read (``build.fetch_note``)."""

    @classmethod
    def create(
        cls,
        cache_dir: Path,
        *,
        source: str = "",
        base_dir: Path | None = None,
        offline: bool = False,
        refresh: bool = False,
        http: HttpClient | None = None,
        progress: Progress | None = None,
    ) -> FetchContext:
        """A context over a cache folder; without ``http``, the process-wide shared client
        (so per-host rate limits hold across contexts)."""
        from welfare_observatory.sources.cache import Cache
        from welfare_observatory.sources.http import shared_client

        return cls(
            cache=Cache(cache_dir),
            http=http if http is not None else shared_client(),
            offline=offline,
            refresh=refresh,
            base_dir=base_dir,
            progress=progress,
            source=source,
        )

    def for_source(self, source_id: str) -> FetchContext:
        """The same context, fetching on behalf of ``source_id``."""
        return dataclasses.replace(self, source=source_id)

    def _say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    def resolve(self, relative_path: str | Path) -> Path:
        """The absolute path of a file inside ``base_dir``; anything outside is a ConfigError."""
        return Path(self._resolved(relative_path)[0])

    def _real_base(self) -> str:
        """``base_dir`` with its symbolic links resolved: once per context (and the
        contexts :meth:`for_source` makes from it), not per file."""
        if self.base_dir is None:
            raise ConfigError(
                "this source reads a local file but no observatory folder is set",
                hint="run it from an observatory, or give FetchContext a base_dir",
            )
        known = self._base_cache
        if not known or known[0] != self.base_dir:
            known[:] = [self.base_dir, os.path.realpath(self.base_dir)]
        return str(known[1])

    def _resolved(self, relative_path: str | Path) -> tuple[str, os.stat_result | None]:
        """:meth:`resolve`'s path, and its ``lstat`` when taken on the way (None if not).

        What ``Path.resolve`` gives, walking only the relative part: below a base without
        links, a path whose every part is a plain name that is no symbolic link is its own
        real path; anything else (``..``, a link, a part missing) goes to ``realpath``."""
        where = Location(source=self.source or None, file=str(relative_path))
        try:
            base = self._real_base()
        except ConfigError as exc:
            exc.location = where
            raise
        text = os.fspath(relative_path)
        if "\x00" in text:
            raise ConfigError(
                f"path {text!r} holds a NUL character",
                location=where,
                hint="no file name holds one: check the path in observatory.yaml",
            )
        target: str | None = None
        found: os.stat_result | None = None
        if os.sep == "/" and not os.altsep and not text.startswith("/"):
            path = base
            for part in text.split("/"):
                if part in ("", "."):
                    continue
                if part == "..":
                    break
                path = path + part if path.endswith("/") else path + "/" + part
                try:
                    found = os.lstat(path)
                except OSError:
                    break
                if stat.S_ISLNK(found.st_mode):
                    break
            else:
                target = path
        if target is None:
            found = None
            target = os.path.realpath(os.path.join(base, text))  # noqa: PTH118
        inside = base if base.endswith(os.sep) else base + os.sep
        if target != base and not target.startswith(inside):
            raise ConfigError(
                f"path {str(relative_path)!r} points outside the observatory folder",
                location=where,
                hint="local files must sit inside the observatory folder; use a relative path",
            )
        return target, found

    def read_file(self, relative_path: str | Path, *, media_type: str | None = None) -> Payload:
        """A file inside ``base_dir`` as a payload: up to :data:`HELD_FILE_BYTES` read,
        hashed and held in memory (the cache keeps no copy: the file is where it is), a
        larger file copied into the cache as it is hashed (memory stays bounded)."""
        found, known = self._resolved(relative_path)
        linkless = known is not None
        base = self._real_base()
        target = Path(found)
        inside = base if base.endswith(os.sep) else base + os.sep
        relative = "." if found == base else found[len(inside) :].replace(os.sep, "/")
        if known is None:
            try:
                known = os.stat(found)  # noqa: PTH116
            except OSError:
                known = None
        if known is None or not stat.S_ISREG(known.st_mode):
            siblings = [p.name for p in target.parent.iterdir()] if target.parent.is_dir() else []
            near = closest(target.name, siblings)
            raise FetchError(
                f"file {relative!r} does not exist",
                location=Location(source=self.source or None, file=relative),
                hint=("did you mean " + ", ".join(near) + "?")
                if near
                else "check the path, relative to the observatory folder",
            )
        guessed = _media_type_of(target.name)
        self._say(f"read {relative}")
        kind = media_type or guessed or "application/octet-stream"
        if known.st_size <= HELD_FILE_BYTES:
            # A copy in the cache was one more file to create and write for each local
            # file, the largest cost left to a fresh build of many small files (issue 19).
            data, known = _read_whole(
                target, known, Location(source=self.source or None, file=relative)
            )
            payload = Payload(
                self.source,
                f"file:{relative}",
                hashlib.sha256(data).hexdigest(),
                target,
                kind,
                {"fetched_at": self.cache.now(), "path": relative},
                data=data,
            )
        else:
            payload = self.cache.put_file(
                self.source,
                f"file:{relative}",
                target,
                media_type=kind,
                meta={"path": relative},
                trust_stamps=not self.refresh,  # a refresh reads and hashes the file again
                status=known,  # a regular file's lstat is its stat: not asked for again
            )
        if self._reads is not None:
            self._reads.append((payload, found, known if linkless else None))
        return payload

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        accept_status: tuple[int, ...] = (),
    ) -> Payload:
        """GET ``url`` through the cache and the rate-limited HTTP client.

        A cached answer is reused unless ``refresh``; offline, a missing answer is an
        OfflineError. Header values written ``env:VAR`` are read from the environment at
        request time and never stored. Statuses in ``accept_status`` (besides 2xx) are
        cached and returned instead of raising (``meta["status"]`` tells them apart).
        """
        from welfare_observatory.errors import OfflineError
        from welfare_observatory.sources.http import request_key

        key = request_key(url, params)
        if not self.refresh:
            cached = self.cache.lookup(self.source, key)
            if cached is not None:
                return cached
        if self.offline:
            raise OfflineError(
                f"offline, and {key} is not in the cache",
                location=Location(source=self.source or None, key=key),
                hint="fetch it once without --offline (the answer is then cached)",
            )
        self._say(f"GET {key}")
        response = self.http.get(
            url,
            params=params,
            headers=headers,
            accept_status=accept_status,
            source=self.source,
        )
        return self.cache.put(
            self.source,
            key,
            response.body,
            media_type=response.media_type,
            meta={"url": key, "status": str(response.status)},
        )


OptionsT = TypeVar("OptionsT", bound=SourceOptions, default=SourceOptions, covariant=True)
"""The options model of a source (``Source[MyOptions]``)."""


class Source(abc.ABC, Generic[OptionsT]):
    """Base class of every source: options, ``fetch`` (I/O) and ``parse`` (pure).

    Subclasses name their options model twice, once for type checkers and once for the
    runtime: ``class MySource(Source[MyOptions])`` with ``Options = MyOptions``; then
    ``self.options`` is a ``MyOptions``, no ``isinstance`` needed. They also set ``type``
    (the name observatories use, lower_snake_case) and ``description`` (one line).
    """

    type: ClassVar[str]
    # ``builtins.type``: inside the class body ``type`` names the class attribute above.
    Options: ClassVar[builtins.type[SourceOptions]] = SourceOptions
    description: ClassVar[str] = ""
    local_files_only: ClassVar[bool] = False
    """True when :meth:`fetch` reads nothing but files through ``FetchContext.read_file``
    and which files follows from the options alone: a build then skips the fetch of a
    source whose options and files are as they were at its last fetch. A fetch that also
    downloads or stores anything else is fetched in every build all the same."""
    options: OptionsT

    def __init__(self, id: str, options: SourceOptions | Mapping[str, Any] | None = None) -> None:
        self.id = id
        # ``validate_options`` returns an instance of ``Options``, the runtime twin of
        # ``OptionsT``; __init_subclass__ checks that the two agree.
        self.options = cast(OptionsT, self.validate_options(id, options))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = [
            arg
            for base in getattr(cls, "__orig_bases__", ())
            if typing.get_origin(base) is Source
            for arg in typing.get_args(base)
        ]
        if declared and isinstance(declared[0], builtins.type):
            if "Options" not in cls.__dict__:
                cls.Options = declared[0]
            elif not issubclass(cls.Options, declared[0]):
                raise TypeError(
                    f"{cls.__name__}.Options is {cls.Options.__name__}, but the class is "
                    f"declared Source[{declared[0].__name__}]"
                )

    @classmethod
    def validate_options(
        cls, id: str, options: SourceOptions | Mapping[str, Any] | None
    ) -> SourceOptions:
        """``options`` as an instance of ``Options``; a ConfigError names the id and field."""
        if isinstance(options, cls.Options):
            return options
        if isinstance(options, SourceOptions):
            options = options.model_dump()
        try:
            return cls.Options.model_validate(dict(options or {}))
        except ValidationError as exc:
            raise _options_error(cls, id, exc) from None

    @abc.abstractmethod
    def fetch(self, ctx: FetchContext) -> list[Payload]:
        """Get the raw payloads (the only I/O), through ``ctx``'s cache and HTTP client."""

    @abc.abstractmethod
    def parse(self, payload: Payload) -> pa.Table:
        """One payload as a pyarrow Table in the source's own codes (deterministic, offline).

        Raises ParseError with a Location (source id, file or URL, row, column, key).
        """

    def location(
        self,
        payload: Payload | None = None,
        *,
        row: int | None = None,
        column: str | int | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> Location:
        """Where a problem is, for errors: this source, the payload's URL or file, and more."""
        return Location(
            source=self.id,
            file=payload.origin if payload is not None else None,
            line=line,
            row=row,
            column=column,
            key=key,
        )

    def parse_error(
        self,
        payload: Payload | None,
        message: str,
        *,
        hint: str | None = None,
        row: int | None = None,
        column: str | int | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> ParseError:
        """A ParseError located in ``payload`` (raise it)."""
        return ParseError(
            message,
            location=self.location(payload, row=row, column=column, key=key, line=line),
            hint=hint,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


_MEDIA_TYPES = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xml": "application/xml",
    ".zip": "application/zip",
}
"""The media types of the files observatories read, by their last suffix (any case): the
same on every machine, and known without loading the system's type tables (``mimetypes``
reads them on first use, about 5 ms of a build that reads one file)."""


HELD_FILE_BYTES = 64 << 20
"""Local files up to this size (64 MiB) are read whole into their payload and hashed, not
copied into the cache (:meth:`FetchContext.read_file`): the parse that follows reads them
whole anyway. A larger file is copied into the cache in 1 MiB pieces as it is hashed."""

_REREADS = 3
"""Times :func:`_read_whole` reads a file that changed while it was read before giving up."""


def _read_whole(
    path: Path, before: os.stat_result, where: Location
) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``path`` and its status when they were read: read
    again when the file's stamp after the read is not ``before``'s (written meanwhile),
    a FetchError when it keeps changing."""
    from welfare_observatory._file_stamp import file_stamp

    for _ in range(_REREADS):
        try:
            with open(path, "rb") as handle:  # noqa: PTH123
                data = handle.read()
                after = os.fstat(handle.fileno())
        except OSError as exc:
            raise FetchError(
                f"cannot read {path.name!r}: {exc.strerror or exc}", location=where
            ) from exc
        if file_stamp(after) == file_stamp(before):
            return data, after
        before = after
    raise FetchError(
        f"file {where.file!r} changed each time it was read",
        location=where,
        hint="something is writing it: build again once it is written",
    )


def _media_type_of(name: str) -> str | None:
    """The media type of a file called ``name``: :data:`_MEDIA_TYPES`, else what
    ``mimetypes`` guesses (a compressed ``.tsv.gz`` is the type of what it holds)."""
    stem, dot, suffix = name.rpartition(".")
    known = _MEDIA_TYPES.get("." + suffix.lower()) if dot and stem else None
    return known if known is not None else mimetypes.guess_type(name)[0]


def _options_error(cls: type[Source], id: str, exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    field_name = ".".join(str(part) for part in first.get("loc", ())) or None
    hint: str | None = None
    if first.get("type") == "extra_forbidden" and field_name:
        near = closest(field_name, cls.Options.model_fields)
        allowed = ", ".join(sorted(cls.Options.model_fields)) or "none"
        hint = (f"did you mean {near[0]!r}? " if near else "") + f"options: {allowed}"
    elif first.get("type") == "missing":
        hint = f"source type {getattr(cls, 'type', cls.__name__)!r} needs option {field_name!r}"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return ConfigError(
        f"invalid options for source {id!r}: {first.get('msg', 'invalid')}{more}",
        location=Location(source=id, field=field_name),
        hint=hint,
    )
