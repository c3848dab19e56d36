"""The territory registry: every Italian territory and the look-ups other stages need.

Built once from the package data (``data/*.parquet``); every look-up is a dict access. The
built look-ups are kept in the start-up cache (:mod:`welfare_observatory._startup_cache`,
``docs/caches.md``), so a new process unpickles them instead of building them again.
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from welfare_observatory import _startup_cache
from welfare_observatory.errors import UnknownTerritoryError
from welfare_observatory.model.territory import OPEN_END, Territory, TerritoryLevel
from welfare_observatory.territory import _store
from welfare_observatory.territory._choose import add_aliases, best_by_name, rank_matches
from welfare_observatory.territory._dates import DateLike, as_date, as_optional_date
from welfare_observatory.territory.history import History, TerritoryEvent
from welfare_observatory.territory.names import normalize_name

if TYPE_CHECKING:
    from welfare_observatory.territory.tables import Districts

__all__ = ["DISTRICT_PREFIX", "TerritoryRegistry", "registry"]

DISTRICT_PREFIX = "district:"
_MODEL_FIELDS = frozenset(Territory.model_fields)
_LEVELS = {level.value: level for level in TerritoryLevel}
_BELFIORE = re.compile(r"^[A-Z]\d{3}$")
_WITH_PROVINCE = re.compile(r"^(?P<name>.+?)\s*\((?P<province>[A-Za-z]{2}|\d{3})\)$")
_INPUTS = ("territories.parquet", "aliases.parquet")
"""The data files the look-ups are built from."""


def _code_files() -> list[Path]:
    """The modules whose code shapes the look-ups: an edit to one is a new cache key."""
    from welfare_observatory.model import territory as model

    return [*sorted(Path(__file__).parent.glob("*.py")), Path(str(model.__file__))]


class TerritoryRegistry:
    """Italy, NUTS 1 areas, regions, provinces, municipalities (current and ceased), districts.

    ``get`` answers canonical codes; ``find`` also takes Belfiore, NUTS (2024, 2021 and Istat's
    legacy CL_ITTER107 codes such as ``ITD20``) and names. Unknown input raises
    :class:`~welfare_observatory.errors.UnknownTerritoryError` with the closest matches.
    """

    def __init__(self, data_dir: Path = _store.DATA_DIR) -> None:
        self.data_dir = data_dir
        self.table_cache: dict[tuple[str, object], pa.Table] = {}
        """Columnar views already built (hierarchy per date, code table)."""
        self._in_force_cache: dict[tuple[str, date], frozenset[str]] = {}
        self._history: History | None = None
        self.cache_key: str | None = None
        """Digest of the data and code the look-ups derive from (start-up cache key)."""
        try:
            self.cache_key = _startup_cache.inputs_digest(
                [data_dir / name for name in _INPUTS] + _code_files()
            )
        except OSError:
            # a missing file is reported by the slow path, with its location and hint
            self._read_data()
            return
        _startup_cache.cached(
            "territories",
            self.cache_key,
            build=self._read_data,
            dump=TerritoryRegistry._state,
            restore=self._restore,
        )

    _STATE = (
        "_by_code",
        "_nuts_2021",
        "_derivation",
        "_name_keys",
        "capitals",
        "_belfiore",
        "_nuts",
        "_names",
        "_children",
        "_abbreviations",
        "_legacy",
    )

    def _state(self) -> dict[str, object]:
        state = {name: getattr(self, name) for name in self._STATE}
        state["_by_code"] = _dump_territories(self._by_code)
        return state

    def _restore(self, state: dict[str, object]) -> TerritoryRegistry:
        if set(state) != set(self._STATE):
            raise ValueError("start-up cache entry of another shape")
        self.__dict__.update(state, _by_code=_load_territories(state["_by_code"]))
        return self

    def _read_data(self) -> TerritoryRegistry:
        """The look-ups built from the Parquet files (what the start-up cache stores)."""
        data_dir = self.data_dir
        table = _store.read("territories.parquet", data_dir)
        # dictionary-encoded columns convert to Python far faster once decoded
        columns = {
            name: (
                column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
            ).to_pylist()
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
        self._by_code: dict[str, Territory] = {}
        self._nuts_2021: dict[str, dict[str, str]] = {}
        self._derivation: dict[str, str] = {}
        self._name_keys: dict[str, list[str]] = {}
        self.capitals: frozenset[str] = frozenset(
            code for code, flag in zip(columns["code"], columns["capital"], strict=True) if flag
        )
        fields = [name for name in columns if name in _MODEL_FIELDS]
        extra = ("nuts1_2021", "nuts2_2021", "nuts3_2021", "derivation", "name_keys")
        # Every territory sets the same fields and the model is frozen: one set for all of
        # them instead of 14.5k copies (a third of the registry's memory), and equal values
        # (parent codes, dates, NUTS codes) one object each. The pickle of the start-up
        # cache keeps both shared, so a process that restores it is as small.
        fields_set = set(fields)
        shared: dict[object, object] = {}
        for values, (n1, n2, n3, derivation, keys) in zip(
            zip(*(columns[f] for f in fields), strict=True),
            zip(*(columns[f] for f in extra), strict=True),
            strict=True,
        ):
            record: dict[str, Any] = {
                f: shared.setdefault(v, v) if isinstance(v, str | date) else v
                for f, v in zip(fields, values, strict=True)
            }
            record["level"] = _LEVELS[record["level"]]
            # package data is validated by the test suite (test_territory_data_validates);
            # skipping per-row validation here keeps the build well under a second
            territory = Territory.model_construct(fields_set, **record)
            code = territory.code
            self._by_code[code] = territory
            self._name_keys[code] = keys
            if n1 or n2 or n3:
                old = {"nuts1": n1, "nuts2": n2, "nuts3": n3}
                self._nuts_2021[code] = {k: v for k, v in old.items() if v}
            if derivation:
                self._derivation[code] = derivation
        self._build_indexes()
        return self

    @property
    def history(self) -> History:
        """The succession events (built on first use)."""
        if self._history is None:
            self._history = self._load_history()
        return self._history

    def _load_history(self) -> History:
        def build() -> History:
            return History(
                _store.read("events.parquet", self.data_dir),
                _store.read("intervals.parquet", self.data_dir),
            )

        def restore(payload: object) -> History:
            if not isinstance(payload, History):
                raise TypeError("start-up cache entry of another shape")
            return payload

        try:
            files = [self.data_dir / "events.parquet", self.data_dir / "intervals.parquet"]
            key = _startup_cache.inputs_digest(files + _code_files())
        except OSError:
            return build()  # the slow path reports the missing file with its hint
        return _startup_cache.cached("territory_history", key, build=build, restore=restore)

    @classmethod
    def load(cls, data_dir: Path | None = None) -> TerritoryRegistry:
        """A new registry from ``data_dir`` (default: the package data)."""
        return cls(data_dir or _store.DATA_DIR)

    def _build_indexes(self) -> None:
        self._belfiore: dict[str, list[str]] = defaultdict(list)
        self._nuts: dict[str, str] = {}
        self._names: dict[str, list[str]] = defaultdict(list)
        self._children: dict[str, list[str]] = defaultdict(list)
        self._abbreviations: dict[str, str] = {}
        # current territories first, so lists answer with what is in force today
        ordered = sorted(
            self._by_code.values(), key=lambda t: (t.valid_to != OPEN_END, t.level.rank, t.code)
        )
        for t in ordered:
            if t.belfiore:
                self._belfiore[t.belfiore].append(t.code)
            for key in self._name_keys[t.code]:
                self._names[key].append(t.code)
            if t.parent and t.valid_to == OPEN_END:
                self._children[t.parent].append(t.code)
            if t.abbreviation:
                self._abbreviations[t.abbreviation.upper()] = t.code
        # NUTS: a code names the largest territory that carries it (ITC2 is the region of
        # Valle d'Aosta, ITC20 its province); NUTS 2 of Trentino-Alto Adige are provinces
        for t in sorted(ordered, key=lambda t: -t.level.rank):
            if t.level in (TerritoryLevel.MUNICIPALITY, TerritoryLevel.DISTRICT):
                continue
            for code in (t.nuts3, t.nuts2, t.nuts1, *self._nuts_2021.get(t.code, {}).values()):
                if code and (t.level.rank <= 3):
                    self._nuts[code] = t.code
        for t in ordered:
            if t.level == TerritoryLevel.NUTS1 and t.nuts1:
                self._nuts[t.nuts1] = t.code
        add_aliases(self._names, {t.code: i for i, t in enumerate(ordered)})
        aliases = _store.read("aliases.parquet", self.data_dir).to_pydict()
        self._legacy = dict(zip(aliases["alias"], aliases["territory"], strict=True))

    # ------------------------------------------------------------------ basics

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Territory]:
        return iter(self._by_code.values())

    def as_dict(self) -> dict[str, Territory]:
        """Every territory by its code (codes are unique), in the order of iteration: a new
        dict, copied whole rather than made entry by entry."""
        return dict(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def _unknown(self, value: str, what: str = "territory", pool: list[str] | None = None) -> None:
        if pool is None:  # names in force: the useful hint for a misspelt name
            pool = [t.name for t in self._by_code.values() if t.valid_to == OPEN_END]
        raise UnknownTerritoryError(value, candidates=pool, message=f"unknown {what} {value!r}")

    def get(self, code: str) -> Territory:
        """The territory with canonical code ``code`` (``"096004"``, ``"district:T01024"``).

        Municipality codes written without leading zeros (``"96004"``) are accepted.
        """
        text = code.strip()
        found = self._by_code.get(text)
        if found is None and text.isdigit() and 4 <= len(text) < 6:
            found = self._by_code.get(text.zfill(6))
        if found is None:
            pool = [c for c in self._by_code if not c.startswith(DISTRICT_PREFIX)]
            self._unknown(code, "territory code", pool)
        assert found is not None
        return found

    def by_belfiore(self, code: str) -> Territory:
        """The municipality with cadastral (Belfiore) code ``code`` (current holder first)."""
        codes = self._belfiore.get(code.strip().upper())
        if not codes:
            self._unknown(code, "Belfiore code", list(self._belfiore))
        assert codes
        return self._by_code[codes[0]]

    def by_nuts(self, code: str) -> Territory:
        """The territory with NUTS code ``code`` (2024 or 2021) or Istat legacy ``ITD20``."""
        text = code.strip().upper()
        target = self._nuts.get(text) or self._legacy.get(text)
        if target is None:
            self._unknown(code, "NUTS code", [*self._nuts, *self._legacy])
        assert target is not None
        return self._by_code[target]

    def by_name(
        self, name: str, *, province: str | None = None, include_ceased: bool = True
    ) -> list[Territory]:
        """Territories called ``name`` (accent-, case-, apostrophe-, "S."-insensitive).

        ``province`` (code ``"022"`` or abbreviation ``"TN"``) keeps only what lies in it.
        In force territories come first, larger levels before smaller ones.
        """
        found = [self._by_code[c] for c in self._names.get(normalize_name(name), [])]
        if not include_ceased:
            found = [t for t in found if t.valid_to == OPEN_END]
        if province is not None:
            wanted = self._province_code(province)
            found = [
                t
                for t in found
                if t.code == wanted or wanted in {a.code for a in self.ancestors(t.code)}
            ]
        return found

    def search(self, text: str, *, limit: int = 20) -> list[Territory]:
        """Territories whose name matches ``text``: exact key, then prefix, then substring.

        Also accepts any code form :meth:`find` accepts. In force territories first.
        """
        found: list[str] = []
        with contextlib.suppress(UnknownTerritoryError):
            found.append(self.find(text).code)
        return rank_matches(self._names, self._by_code, text, found, limit)

    def _province_code(self, text: str) -> str:
        value = text.strip()
        if value.upper() in self._abbreviations:
            return self._abbreviations[value.upper()]
        if value in self._by_code and self._by_code[value].level == TerritoryLevel.PROVINCE:
            return value
        self._unknown(text, "province", [*self._abbreviations, *self._abbreviations.values()])
        raise AssertionError  # pragma: no cover - _unknown always raises

    def find(self, text: str, *, at: DateLike | None = None) -> Territory:
        """Any form: canonical code, district id, NUTS, Belfiore, name, ``"Name (TN)"``.

        Names resolve to a territory in force on ``at`` (default: today's list), the largest
        level first (``"Biella"`` is the province; its comune is ``"096004"``); see
        :func:`~._choose.best_by_name` for ceased records and ``_aliases.py`` for short
        forms (``"Reggio Emilia"``). A name several comuni share needs the province:
        ``"Samone (TN)"``.
        """
        when = as_optional_date(at)
        value = text.strip()
        if not value:
            raise UnknownTerritoryError(text, message="empty territory text")
        if value in self._by_code:
            return self._by_code[value]
        if value.isdigit() and 4 <= len(value) < 6:
            return self.get(value)
        upper = value.upper()
        if DISTRICT_PREFIX + upper in self._by_code:
            return self._by_code[DISTRICT_PREFIX + upper]
        if upper in self._nuts or upper in self._legacy:
            return self.by_nuts(upper)
        if _BELFIORE.match(upper) and upper in self._belfiore:
            return self.by_belfiore(upper)
        match = _WITH_PROVINCE.match(value)
        found = (
            self.by_name(match["name"], province=match["province"])
            if match
            else self.by_name(value)
        )
        if not found:
            self._unknown(text)
        day = when or _today()
        best = best_by_name(found, when, self._by_code, lambda c: self.history.successors(c, day))
        if len(best) > 1:
            options = ", ".join(f"{t.name} ({self._abbreviation_of(t)}) {t.code}" for t in best)
            raise UnknownTerritoryError(
                text,
                message=f"ambiguous territory name {text!r}: {options}",
                hint=f"add the province, e.g. {best[0].name!r} -> "
                f"'{best[0].name} ({self._abbreviation_of(best[0])})', or use the code",
            )
        return best[0]

    def _abbreviation_of(self, territory: Territory) -> str:
        for t in (territory, *self.ancestors(territory.code)):
            if t.abbreviation:
                return t.abbreviation
        return territory.parent or ""

    # ------------------------------------------------------------------ hierarchy

    def parent(self, code: str) -> Territory | None:
        """The parent territory (``None`` for Italy)."""
        territory = self.get(code)
        return self._by_code.get(territory.parent) if territory.parent else None

    def ancestors(self, code: str) -> list[Territory]:
        """Parent, grandparent, ... up to Italy (nearest first)."""
        out: list[Territory] = []
        current = self.get(code)
        while current.parent and current.parent in self._by_code and len(out) < 8:
            current = self._by_code[current.parent]
            out.append(current)
        return out

    def children(self, code: str, level: TerritoryLevel | str | None = None) -> list[Territory]:
        """Direct children in force (districts only when asked with ``level="district"``).

        With ``level``, every descendant at that level: ``children("03", "municipality")``.
        """
        target = self.get(code)
        wanted = TerritoryLevel(level) if level is not None else None
        if target.level in (TerritoryLevel.DISTRICT, TerritoryLevel.GROUPING):
            members = [self._by_code[c] for c in target.members if c in self._by_code]
            return [t for t in members if wanted in (None, t.level)]
        direct = [self._by_code[c] for c in self._children.get(code, [])]
        if wanted is None:
            return [t for t in direct if t.level != TerritoryLevel.DISTRICT]
        out: list[Territory] = []
        stack = list(reversed(direct))
        while stack:
            t = stack.pop()
            if t.level == wanted:
                out.append(t)
            elif t.level.rank < wanted.rank and t.level != TerritoryLevel.DISTRICT:
                stack.extend(reversed([self._by_code[c] for c in self._children.get(t.code, [])]))
        return out

    def municipalities(self, of: str | None = None, at: DateLike | None = None) -> list[Territory]:
        """Municipalities in force on ``at`` (default: the current list), inside ``of``."""
        from welfare_observatory.territory.tables import LEVEL_COLUMN, hierarchy

        table = hierarchy(self, as_optional_date(at)).to_pydict()
        if of is None:
            codes = table["municipality"]
        else:
            target = self.get(of)
            if target.level in (TerritoryLevel.DISTRICT, TerritoryLevel.GROUPING):
                return [self._by_code[c] for c in target.members if c in self._by_code]
            column = LEVEL_COLUMN[target.level]
            codes = [
                m for m, v in zip(table["municipality"], table[column], strict=True) if v == of
            ]
        return [self._by_code[c] for c in codes if c in self._by_code]

    def districts(self, province: str | None = None) -> list[Territory]:
        """Social districts (Istat CL_ITTER107 ``T..xxxx``), optionally of one province."""
        out = [t for t in self._by_code.values() if t.level == TerritoryLevel.DISTRICT]
        if province is not None:
            wanted = self._province_code(province)
            out = [t for t in out if t.parent == wanted]
        return out

    def derivation(self, code: str) -> str | None:
        """How a shipped territory was derived, where that is not plain source data."""
        return self._derivation.get(self.get(code).code)

    def nuts_2021(self, code: str) -> dict[str, str]:
        """NUTS 2021 codes where they differ from NUTS 2024 (``{"nuts3": "ITI31"}``)."""
        return dict(self._nuts_2021.get(self.get(code).code, {}))

    # ------------------------------------------------------------------ history

    def successors(self, code: str, at: DateLike | None = None) -> list[str]:
        """Municipality codes in force on ``at`` (default: today) that ``code`` became.

        ``at``: a ``date`` or ISO string (else ``InvalidDateError``). A code in force maps to
        itself; a ceased one follows its code changes, moves and mergers. Empty when the
        successor is unknown (some comuni ceased before 1978, see :meth:`events`).
        """
        territory = self.get(code)
        when = as_date(at) if at is not None else _today()
        if territory.level != TerritoryLevel.MUNICIPALITY:
            # only municipality codes have a recorded history; the others are in force
            return [territory.code] if territory.valid_at(when) else []
        if territory.code in self._in_force(when):
            # what the history answers for a code in force, without reading its events
            # (most codes a build meets are in force on its reference date)
            return [territory.code]
        return self.history.successors(territory.code, when)

    def _in_force(self, at: date) -> frozenset[str]:
        """Municipality codes with a span of validity holding ``at`` (the history's
        ``valid``), from the intervals table."""
        key = ("in_force", at)
        found = self._in_force_cache.get(key)
        if found is None:
            import pyarrow.compute as pc

            spans = _store.read("intervals.parquet", self.data_dir)
            day = pa.scalar(at, pa.date32())
            held = pc.and_(
                pc.less_equal(spans["valid_from"], day), pc.greater_equal(spans["valid_to"], day)
            )
            codes = spans.filter(held).column("code").cast(pa.string())
            found = self._in_force_cache[key] = frozenset(codes.to_pylist())
        return found

    def predecessors(self, code: str, at: DateLike | None = None) -> list[str]:
        """Codes that became (part of) ``code``, transitively, up to ``at``."""
        return self.history.predecessors(self.get(code).code, as_optional_date(at))

    def events(self, code: str) -> list[TerritoryEvent]:
        """Every recorded event in which ``code`` is the old or the new code."""
        return self.history.involving(self.get(code).code)

    def hierarchy(
        self, at: DateLike | None = None, *, districts: Districts | None = None
    ) -> pa.Table:
        """One row per municipality: municipality, district, province, region, nuts1, country.

        ``at``: a ``date`` or ISO string (default: the current list). ``districts`` (declared
        ``{"district:T01024": ["096004", ...]}``) fills ``district``, else null: shipped
        districts have no members (:func:`.tables.declared_districts`).
        """
        from welfare_observatory.territory.tables import hierarchy

        return hierarchy(self, as_optional_date(at), districts=districts)

    def code_table(self) -> pa.Table:
        """Every known code form (``key``, ``system``) mapped to its canonical ``territory``."""
        from welfare_observatory.territory.tables import code_table

        return code_table(self)


_AS_FIELDS = "territories as field values"


def _dump_territories(by_code: dict[str, Territory]) -> object:
    """The territories for the start-up cache: their field values (one shared set of the
    fields given), which a new process makes into models in a third of the time pickle
    takes through pydantic's own state, one call per territory. Models with anything more
    (extra or private values, different fields given) are pickled as they are."""
    values = list(by_code.values())
    given = values[0].__pydantic_fields_set__ if values else set()
    plain = all(
        t.__pydantic_fields_set__ == given
        and t.__pydantic_extra__ is None
        and t.__pydantic_private__ is None
        and type(t) is Territory
        for t in values
    ) and all(code == t.code for code, t in by_code.items())
    if not plain:
        return by_code
    return (_AS_FIELDS, set(given), [t.__dict__ for t in values])


def _load_territories(payload: object) -> dict[str, Territory]:
    """:func:`_dump_territories` undone: the same models, in the same order."""
    if isinstance(payload, dict):
        return payload
    if not (isinstance(payload, tuple) and len(payload) == 3 and payload[0] == _AS_FIELDS):
        raise ValueError("start-up cache entry of another shape")
    _, given, fields = payload
    new, put = object.__new__, object.__setattr__
    by_code: dict[str, Territory] = {}
    for values in fields:
        # what pydantic's own unpickling sets (BaseModel.__setstate__), without a call each
        territory = new(Territory)
        put(territory, "__dict__", values)
        put(territory, "__pydantic_fields_set__", given)
        put(territory, "__pydantic_extra__", None)
        put(territory, "__pydantic_private__", None)
        by_code[values["code"]] = territory
    return by_code


def _today() -> date:
    return date.today()


@cache
def registry() -> TerritoryRegistry:
    """The registry built from the package data (built on first use, then cached)."""
    return TerritoryRegistry.load()
