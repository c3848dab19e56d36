"""Importing the derive stage (and the finding parts a rebuild reads, and the modules that
query DuckDB) loads no DuckDB: it is imported by the first connection, so a rebuild whose
derive asks it nothing never loads it."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter (nothing imported before it)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_the_derive_stage_imports_without_duckdb() -> None:
    code = (
        "import sys\n"
        "import welfare_observatory.build.derive, welfare_observatory.build.reuse\n"
        "import welfare_observatory.derive._parts\n"
        "print('duckdb' in sys.modules)\n"
        "from welfare_observatory.derive import aggregate\n"
        "print('duckdb' in sys.modules, aggregate.__module__)\n"
        "from welfare_observatory.derive._common import connect\n"
        "answer = connect().sql('SELECT 1').fetchall()\n"
        "print('duckdb' in sys.modules, answer)\n"
    )
    out = _run(code)
    assert out.split("\n")[:3] == [
        "False",
        "False welfare_observatory.derive.aggregation",
        "True [(1,)]",
    ]


def test_the_database_opened_early_is_the_one_derive_queries() -> None:
    code = (
        "import os, threading\n"
        "from welfare_observatory.build.derive import open_database_early\n"
        "open_database_early()\n"
        "[t.join() for t in threading.enumerate() if t.name == 'duckdb-open']\n"
        "from welfare_observatory.derive import _common\n"
        "early = _common._DATABASE[os.getpid()]\n"
        "con = _common.connect()\n"
        "print(_common._DATABASE[os.getpid()] is early, con.sql('SELECT 42').fetchall())\n"
    )
    out = _run(code)
    assert out.strip() == "True [(42,)]"


def test_a_released_database_serves_its_open_cursors_and_the_next_connect_opens_another() -> None:
    code = (
        "from welfare_observatory.derive import _common\n"
        "from welfare_observatory.derive._common import release_database\n"
        "release_database()\n"  # none open yet: nothing to forget
        "old = _common.connect()\n"
        "old.execute('CREATE TABLE t AS SELECT 7 AS x')\n"
        "release_database()\n"
        "new = _common.connect()\n"
        "seen = new.sql(\"SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'\")\n"
        "print(old.sql('SELECT x FROM t').fetchall(), seen.fetchall())\n"
    )
    out = _run(code)
    assert out.strip() == "[(7,)] [(0,)]"


def test_the_engines_versions_are_read_without_importing_duckdb() -> None:
    code = (
        "import sys\n"
        "from welfare_observatory._version import engine_versions\n"
        "found = engine_versions()\n"
        "print('duckdb' in sys.modules)\n"
        "import duckdb\n"
        "print(found['duckdb'] == duckdb.__version__, engine_versions() == found)\n"
    )
    out = _run(code)
    # The same versions before and after DuckDB is imported: a step key never depends on it.
    assert out.split("\n")[:2] == ["False", "True True"]


def test_a_database_being_opened_early_is_waited_for_when_it_is_released() -> None:
    code = (
        "import os, threading\n"
        "from welfare_observatory.derive import _common\n"
        "_common.open_early()\n"
        "_common.open_early()\n"  # one opening at a time
        "print(len([t for t in threading.enumerate() if t.name == 'duckdb-open']))\n"
        "_common.release_database()\n"
        "alive = [t for t in threading.enumerate() if t.name == 'duckdb-open']\n"
        "print(os.getpid() in _common._DATABASE, len(alive))\n"
    )
    out = _run(code)
    # Released after it was opened, not before: no database is left behind.
    assert out.split("\n")[:2] == ["1", "False 0"]
