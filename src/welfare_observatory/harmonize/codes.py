"""Territory code lookup for harmonization: Istat codes, Belfiore, NUTS and names.

A :class:`CodeTable` indexes known territories once; the engine resolves each *distinct*
source value (a few thousand at most) and joins the result back onto the rows, so the cost
does not grow with the number of rows.
"""

from __future__ import annotations

import pickle
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from welfare_observatory.errors import closest
from welfare_observatory.model.territory import Territory, TerritoryLevel

__all__ = ["CodeTable", "Resolution", "default_normalize"]


def pa_string() -> Any:
    import pyarrow as pa

    return pa.string()


def pa_array(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


_DIGITS = re.compile(r"^\d+$")
_BELFIORE = re.compile(r"^[A-Z]\d{3}$")
_NUTS = re.compile(r"^IT[A-Z0-9]{0,3}$")
_PAD = {TerritoryLevel.MUNICIPALITY: 6, TerritoryLevel.PROVINCE: 3, TerritoryLevel.REGION: 2}
_SAINTS = re.compile(r"\b(?:s|st|san|santo|santa|sant)\b\.?\s*")


def default_normalize(text: str) -> str:
    """A name key insensitive to accents, case, apostrophes and ``S.``/``San``/``Sant'``.

    Used when no territory registry supplies its own ``normalize_name``.
    """
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    folded = re.sub(r"[’'`´]", "' ", folded)
    folded = re.sub(r"[^\w']+", " ", folded).replace("'", " ")
    folded = _SAINTS.sub("s ", f" {folded} ")
    return " ".join(folded.split())


@dataclass(frozen=True, slots=True)
class Resolution:
    """The canonical code for one source value, or why there is none."""

    code: str | None
    problem: str | None = None
    """``unknown`` or ``ambiguous``."""
    candidates: tuple[str, ...] = ()


class CodeTable:
    """Known territories and every key a source may use for them."""

    def __init__(
        self, territories: Iterable[Territory], normalize: Callable[[str], str] = default_normalize
    ) -> None:
        self.normalize = normalize
        self.territories: dict[str, Territory] = {}
        self._lazy: dict[str, Any] = {"_belfiore": {}, "_names": {}}
        self._nuts: dict[str, str] = {}
        self._abbreviations: dict[str, str] = {}
        self.valid_to: dict[str, date] = {}
        """Per code, the last day any version of it is valid (year 9999: still valid)."""
        self._resolved: dict[tuple[str, str, TerritoryLevel | None, str | None], Resolution] = {}
        for territory in territories:
            self._index(territory)
        # NUTS 2 of Trentino-Alto Adige are its provinces (ITH2 is Trento); a region that
        # carries the same code (ITC2, Valle d'Aosta) keeps it.
        for t in self.territories.values():
            if t.level is TerritoryLevel.PROVINCE and t.nuts2:
                self._nuts.setdefault(t.nuts2.upper(), t.code)

    @property
    def _belfiore(self) -> dict[str, list[str]]:
        """Belfiore (cadastral) code -> the Istat codes that carried it."""
        found: dict[str, list[str]] = self._index_named("_belfiore")
        return found

    @property
    def _names(self) -> dict[str, list[str]]:
        """Normalised name -> the codes of the territories of that name."""
        found: dict[str, list[str]] = self._index_named("_names")
        return found

    def _index_named(self, name: str) -> Any:
        """The look-up ``name`` of :data:`_LAZY`, unpickled on first use when it came from
        the start-up cache as bytes; made again from the territories, as ``__init__`` makes
        it, when the bytes do not unpickle to a mapping (a damaged entry is never trusted,
        however late it is read)."""
        value = self._lazy[name]
        if isinstance(value, bytes):
            from welfare_observatory._startup_cache import no_collection

            try:
                # the bytes were in the user's own cache entry, read and trusted with it
                with no_collection():
                    value = pickle.loads(value)  # noqa: S301
            except Exception:  # any failure to unpickle: made again below
                value = None
            if not isinstance(value, dict):
                value = CodeTable(self.territories.values(), self.normalize)._lazy[name]
            self._lazy[name] = value
        return value

    def _index(self, t: Territory) -> None:
        self.territories.setdefault(t.code, t)
        self.valid_to[t.code] = max(t.valid_to, self.valid_to.get(t.code, t.valid_to))
        if t.belfiore:
            self._belfiore.setdefault(t.belfiore.upper(), []).append(t.code)
        own_nuts = {
            TerritoryLevel.NUTS1: t.nuts1 or t.code,
            TerritoryLevel.REGION: t.nuts2,
            TerritoryLevel.PROVINCE: t.nuts3,
        }.get(t.level)
        for nuts in (own_nuts, t.istat_code):
            if nuts:
                self._nuts.setdefault(nuts.upper(), t.code)
        if t.level is TerritoryLevel.COUNTRY:
            self._nuts.setdefault(t.code.upper(), t.code)
        if t.abbreviation and t.level is TerritoryLevel.PROVINCE:
            self._abbreviations[t.abbreviation.upper()] = t.code
        for name in {
            t.name,
            t.name_other or "",
            f"{t.name}/{t.name_other}" if t.name_other else "",
        }:
            if name:
                bucket = self._names.setdefault(self.normalize(name), [])
                if t.code not in bucket:
                    bucket.append(t.code)

    @classmethod
    def from_registry(cls, registry: Any = None) -> CodeTable:
        """A code table from the territory registry (the package default when None).

        Every territory the registry knows is indexed, ceased municipalities included, so
        series under old codes are recognised and left for reconciliation rather than
        reported as unknown. NUTS 2024 and Istat CL_ITTER107 codes come from the registry's
        code table (``ITD20`` and ``ITH20`` are both Trento).
        """
        from welfare_observatory.territory import registry as default_registry

        reg = registry if registry is not None else default_registry()
        key = getattr(reg, "cache_key", None)
        if not isinstance(key, str):
            return cls._from_registry(reg)
        from pathlib import Path

        from welfare_observatory import _startup_cache

        try:
            key = _startup_cache.inputs_digest([Path(__file__)], key)
        except OSError:  # no module file to digest (a zipped install): no cache
            return cls._from_registry(reg)
        return _startup_cache.cached(
            "territory_codes",
            key,
            build=lambda: cls._from_registry(reg),
            dump=CodeTable._indexes,
            restore=lambda state: cls._restore(reg, state),
        )

    _INDEXES = ("_belfiore", "_nuts", "_names", "_abbreviations")

    _LAZY = ("_belfiore", "_names")
    """Look-ups the start-up cache keeps pickled apart, unpickled when first used (about
    8 ms a process): sources that give Istat or NUTS codes never resolve a name or a
    Belfiore code."""

    def _indexes(self) -> dict[str, Any]:
        """The look-ups beyond the territories themselves (what the start-up cache stores)."""
        return {
            name: pickle.dumps(getattr(self, name), protocol=pickle.HIGHEST_PROTOCOL)
            if name in self._LAZY
            else getattr(self, name)
            for name in self._INDEXES
        }

    @classmethod
    def _restore(cls, registry: Any, state: dict[str, Any]) -> CodeTable:
        """The code table of ``registry`` from its cached look-ups; same as ``_from_registry``."""
        from welfare_observatory.territory import normalize_name

        if set(state) != set(cls._INDEXES):
            raise ValueError("start-up cache entry of another shape")
        table = cls((), normalize_name)
        # Registry codes are unique, so setdefault of __init__ reduces to a copy of the
        # registry's own mapping (made entry by entry, it was a third of a build's restore).
        as_dict = getattr(registry, "as_dict", None)
        table.territories = as_dict() if callable(as_dict) else {t.code: t for t in registry}
        table.valid_to = {code: t.valid_to for code, t in table.territories.items()}
        for name, value in state.items():
            if name in cls._LAZY:
                if not isinstance(value, bytes):
                    raise ValueError("start-up cache entry of another shape")
                table._lazy[name] = value
            else:
                setattr(table, name, value)
        return table

    @classmethod
    def _from_registry(cls, reg: Any) -> CodeTable:
        import pyarrow.compute as pc

        from welfare_observatory.territory import normalize_name

        table = cls(list(reg), normalize_name)
        codes = reg.code_table()
        systems = codes.column("system").cast(pa_string())
        keep = pc.is_in(systems, value_set=pa_array(["itter107", "nuts2024"]))
        extra = codes.filter(keep).select(["key", "territory"]).to_pydict()
        for key, code in zip(extra["key"], extra["territory"], strict=True):
            table._nuts.setdefault(str(key).upper(), str(code))
        return table

    def level_of(self, code: str) -> TerritoryLevel | None:
        t = self.territories.get(code)
        return t.level if t is not None else None

    def province(self, text: str) -> str | None:
        """A province code from a code (``22``/``022``), NUTS 3, abbreviation or name."""
        value = text.strip()
        if not value:
            return None
        if _DIGITS.match(value):
            code = value.zfill(3)
            return code if self.level_of(code) is TerritoryLevel.PROVINCE else None
        upper = value.upper()
        if upper in self._abbreviations:
            return self._abbreviations[upper]
        if upper in self._nuts and self.level_of(self._nuts[upper]) is TerritoryLevel.PROVINCE:
            return self._nuts[upper]
        provinces = [
            c
            for c in self._names.get(self.normalize(value), [])
            if self.level_of(c) is TerritoryLevel.PROVINCE
        ]
        return provinces[0] if len(provinces) == 1 else None

    def _province_of(self, code: str) -> str | None:
        t = self.territories.get(code)
        if t is None:
            return None
        if t.level is TerritoryLevel.MUNICIPALITY:
            return code[:3]
        return code if t.level is TerritoryLevel.PROVINCE else None

    def resolve(
        self,
        value: str,
        *,
        scheme: str = "auto",
        level: TerritoryLevel | None = None,
        province: str | None = None,
        mapping: dict[tuple[str, str | None], str] | None = None,
    ) -> Resolution:
        """Resolve one source value; ``mapping`` keys are (name key, province or None).

        Answers without a ``mapping`` are remembered: every source of a build meets the same
        few hundred territory values, and the table does not change once built."""
        if mapping:
            return self._resolve(value, scheme, level, province, mapping)
        key = (value, scheme, level, province)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(value, scheme, level, province, None)
        return found

    def _resolve(
        self,
        value: str,
        scheme: str,
        level: TerritoryLevel | None,
        province: str | None,
        mapping: dict[tuple[str, str | None], str] | None,
    ) -> Resolution:
        text = value.strip()
        if not text:
            return Resolution(None, "unknown")
        if mapping:
            key = self.normalize(text)
            hit = mapping.get((key, province)) or mapping.get((key, None))
            if hit is not None:
                return Resolution(hit)
        attempts: dict[str, Sequence[Callable[[str, TerritoryLevel | None], Resolution | None]]]
        attempts = {
            "istat": [self._by_code],
            "belfiore": [self._by_belfiore],
            "nuts": [self._by_nuts],
            "name": [],
            "auto": [self._by_code, self._by_belfiore, self._by_nuts],
        }
        for attempt in attempts[scheme]:
            found = attempt(text, level)
            if found is not None:
                return found
        if scheme in ("name", "auto"):
            return self._by_name(text, level, province)
        return Resolution(None, "unknown", tuple(self._suggest(text)))

    def _by_code(self, text: str, level: TerritoryLevel | None) -> Resolution | None:
        if text in self.territories and (level is None or self.level_of(text) is level):
            return Resolution(text)
        if not _DIGITS.match(text):
            return None
        widths = [_PAD[level]] if level in _PAD else ([6] if len(text) >= 4 else [3, 2])
        found = [c for w in widths if (c := text.zfill(w)) in self.territories]
        if len(found) == 1:
            return Resolution(found[0])
        if len(found) > 1:
            return Resolution(None, "ambiguous", tuple(found))
        return None

    def _by_belfiore(self, text: str, level: TerritoryLevel | None) -> Resolution | None:
        codes = self._belfiore.get(text.upper()) if _BELFIORE.match(text.upper()) else None
        if not codes:
            return None
        # A Belfiore code survives a move between provinces; the newest Istat code wins.
        current = [c for c in codes if self.territories[c].valid_to.year == 9999]
        return Resolution((current or codes)[-1])

    def _by_nuts(self, text: str, level: TerritoryLevel | None) -> Resolution | None:
        upper = text.upper()
        if not _NUTS.match(upper) and upper not in self._nuts:
            return None
        code = self._nuts.get(upper)
        return Resolution(code) if code is not None else None

    def _by_name(self, text: str, level: TerritoryLevel | None, province: str | None) -> Resolution:
        key = self.normalize(text)
        codes = list(self._names.get(key, []))
        if not codes:
            for part in re.split(r"\s*[/-]\s*", text):
                if part and part != text and (found := self._names.get(self.normalize(part))):
                    codes = list(found)
                    break
        if level is not None:
            codes = [c for c in codes if self.level_of(c) is level]
        elif any(self.level_of(c) is TerritoryLevel.MUNICIPALITY for c in codes):
            codes = [c for c in codes if self.level_of(c) is TerritoryLevel.MUNICIPALITY]
        if province is not None:
            codes = [c for c in codes if self._province_of(c) == province]
        current = [c for c in codes if self.territories[c].valid_to.year == 9999]
        codes = current or codes
        if len(codes) == 1:
            return Resolution(codes[0])
        if len(codes) > 1:
            return Resolution(None, "ambiguous", tuple(sorted(codes)))
        return Resolution(None, "unknown", tuple(self._suggest(text)))

    def _suggest(self, text: str) -> list[str]:
        if not re.search(r"\d", text):
            names = {t.name: c for c, t in self.territories.items() if t.valid_to.year == 9999}
            return [f"{n} ({names[n]})" for n in closest(text, names)]
        return closest(text, list(self.territories) + list(self._nuts))
