"""A note of what each source's fetch read, so that a rebuild skips the fetch of a source
whose options and local files are as they were.

A source type whose ``Source.local_files_only`` is True fetches nothing but files through
``FetchContext.read_file``, and which files follows from its options alone (the built-in
``table`` and ``sdmx`` sources and the ``eurostat_tsv`` plugin, given a ``path``; see
:func:`promises_local_files` for subclasses). After such a fetch the build notes, under
a digest of the source's type and options, the files' stamps (size, modification and change
times, inode and device: :func:`~welfare_observatory._file_stamp.file_stamp`) and the
digests of the payloads. The next build takes the digests from the note when every file
still has its stamp: it makes no source object and calls no fetch for the source, and looks
its step up as the fetch would have had it do. When that step cannot be used (missing,
damaged, or its rows needed and found damaged later), the source is fetched after all.

What the note trusts is what the payload cache trusts of a local file (an unchanged stamp
means unchanged bytes): a fetch that read a file changed within two seconds before it began
is not noted (the "racy" case), nor one that read a file through a symbolic link, and
``--refresh`` reads every file again. The note holds only the sources of
the observatory (a build limited to some of them keeps the others' entries as they were),
and is written in ``<kb>/.steps/fetched.json`` without an fsync: a cache, ignored whole when
it does not read as a note of this library's versions and this observatory folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from welfare_observatory._file_stamp import SETTLED_NS, file_stamp, settled
from welfare_observatory.lineage import digest

__all__ = ["NAME", "FetchNote", "promises_local_files"]

NAME = "fetched.json"
"""The note's file in a knowledge base's ``.steps`` folder."""

_FORMAT = 1

_SETTLED_NS = SETTLED_NS
"""How long a file must have been still for its stamp to be noted (as the cache has it)."""


def promises_local_files(source_type: type) -> bool:
    """Whether ``source_type`` promises a fetch of local files alone
    (``Source.local_files_only``): the promise holds for the ``fetch`` of the class that
    makes it, so a subclass with a ``fetch`` of its own must make it again."""
    fetcher = next((c for c in source_type.__mro__ if "fetch" in vars(c)), None)
    promiser = next((c for c in source_type.__mro__ if "local_files_only" in vars(c)), None)
    if fetcher is None or promiser is None or not issubclass(promiser, fetcher):
        return False
    return vars(promiser)["local_files_only"] is True


class FetchNote:
    """The note a build read (``previous``) and the one it writes (``current``): both map a
    source id to ``[inputs, payload digests, [[path, stamp], ...]]``; ``ran``: the sources
    this build fetched or took from the note."""

    def __init__(self, path: Path, head: Mapping[str, Any], previous: Mapping[str, Any]) -> None:
        self.path = path
        self.head = dict(head)
        self.previous = previous
        self.current: dict[str, list[Any]] = {}
        self.ran: set[str] = set()

    @classmethod
    def load(cls, steps_dir: Path, *, versions: Mapping[str, str], base: str) -> FetchNote:
        """The note in ``steps_dir`` when it was written for ``versions`` and the observatory
        folder ``base`` (its real path); else an empty one."""
        head = {"format": _FORMAT, "versions": dict(sorted(versions.items())), "base": base}
        path = steps_dir / NAME
        previous: Mapping[str, Any] = {}
        try:
            with path.open("rb") as handle:
                record = json.loads(handle.read())
            if isinstance(record, dict) and record.get("head") == head:
                sources = record.get("sources")
                if isinstance(sources, dict):
                    previous = sources
        except (OSError, ValueError, RecursionError):
            pass  # no note, or a damaged one: every source fetches
        return cls(path, head, previous)

    @staticmethod
    def inputs(source_type: str, options: Mapping[str, Any]) -> str:
        """What a noted fetch depends on besides its files: the source's type and options."""
        return digest({"type": source_type, "options": options})

    def payloads(self, source_id: str, inputs: str) -> tuple[str, ...] | None:
        """The payload digests noted for ``source_id`` when its inputs are ``inputs`` and every
        file it read still has its stamp; else None. A hit is kept in the next note."""
        entry = self._unchanged(source_id, inputs)
        if entry is None:
            return None
        self.current[source_id] = entry
        self.ran.add(source_id)
        return tuple(entry[1])

    def peek(self, source_id: str, inputs: str) -> tuple[str, ...] | None:
        """What :meth:`payloads` would give now, nothing kept for the next note."""
        entry = self._unchanged(source_id, inputs)
        return None if entry is None else tuple(entry[1])

    def _unchanged(self, source_id: str, inputs: str) -> list[Any] | None:
        entry = self.previous.get(source_id)
        if not (isinstance(entry, list) and len(entry) == 3 and entry[0] == inputs):
            return None
        _, hashes, files = entry
        if not (
            isinstance(hashes, list)
            and hashes
            and all(isinstance(h, str) for h in hashes)
            and isinstance(files, list)
            and files
        ):
            return None
        for item in files:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                return None
            try:
                if file_stamp(os.stat(item[0])) != item[1]:  # noqa: PTH116
                    return None
            except (OSError, ValueError):
                return None
        return entry

    def note(
        self,
        source_id: str,
        inputs: str,
        hashes: Sequence[str],
        payloads: Sequence[Any],
        reads: Sequence[tuple[Any, str, os.stat_result | None]],
        *,
        begun: int,
    ) -> None:
        """Note a fetch begun at ``begun`` (``time.time_ns``) that returned ``payloads``
        (digests ``hashes``) having read the files ``reads`` (payload, path, stat before
        reading; None for a read through a symbolic link): only when every payload is a file
        it read, no read went through a link, and every file had been still for a while
        when the fetch began."""
        self.forget(source_id)
        if not reads or not payloads:
            return
        stats = [status for _, _, status in reads]
        if any(status is None for status in stats):
            return  # a link may point elsewhere next time, its target's stamp unchanged
        read = {payload.sha256 for payload, _, _ in reads}
        for payload in payloads:
            linked = payload.meta.get("structure_sha256")
            if payload.sha256 not in read or (linked and linked not in read):
                return  # a payload that is not a file read as it is: fetched every build
        if not all(settled(status, begun, _SETTLED_NS) for status in stats if status is not None):
            return
        files = sorted(
            {path: file_stamp(status) for _, path, status in reads if status is not None}.items()
        )
        self.current[source_id] = [inputs, list(hashes), [[p, s] for p, s in files]]

    def forget(self, source_id: str) -> None:
        """Leave ``source_id`` out of the next note (fetched, but not noted)."""
        self.current.pop(source_id, None)
        self.ran.add(source_id)

    def save(self, *, keep: Collection[str] = ()) -> None:
        """Write the note (not fsynced: a cache): this build's sources, and those of ``keep``
        (the observatory's) that it did not run as the last note had them."""
        from welfare_observatory._atomic import atomic_write_bytes

        sources = {k: v for k, v in self.previous.items() if k in keep and k not in self.ran}
        sources.update(self.current)
        if sources == self.previous and self.path.exists():
            return  # the same note: not written again
        record = {"head": self.head, "sources": dict(sorted(sources.items()))}
        atomic_write_bytes(self.path, json.dumps(record).encode("utf-8"), sync=False)
