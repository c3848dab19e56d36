"""The console script's process handling: deferred collection during start-up, the exit
without interpreter teardown, and everything a normal exit does still done."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from welfare_observatory.cli import _process
from welfare_observatory.cli.main import main


def _run(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("return None", 0), ("return 3", 3), ("raise SystemExit(4)", 4), ("raise SystemExit", 0)],
)
def test_exit_status_is_that_of_sys_exit(outcome: str, status: int, tmp_path: Path) -> None:
    result = _run(
        f"""
        from welfare_observatory.cli._process import run_command
        def command():
            {outcome}
        run_command(command)
        """,
        tmp_path,
    )
    assert result.returncode == status, result.stderr


def test_a_message_exits_1_and_is_printed(tmp_path: Path) -> None:
    result = _run(
        """
        from welfare_observatory.cli._process import run_command
        def command():
            raise SystemExit("no such thing")
        run_command(command)
        """,
        tmp_path,
    )
    assert result.returncode == 1
    assert "no such thing" in result.stderr


def test_buffered_output_exit_hooks_and_files_are_all_done(tmp_path: Path) -> None:
    # A large output still in the buffer, an atexit hook and a temporary folder: a fast
    # exit that skipped any of them would lose data or leave files behind.
    marker = tmp_path / "hook-ran"
    result = _run(
        f"""
        import atexit, sys, tempfile
        from pathlib import Path
        from welfare_observatory.cli._process import run_command
        def command():
            atexit.register(lambda: Path({str(marker)!r}).write_text("yes"))
            folder = tempfile.TemporaryDirectory(dir={str(tmp_path)!r})
            Path(folder.name, "x").write_text("x")
            command.folder = folder  # alive until exit: its finalizer removes it
            sys.stdout.write("line\\n" * 200_000)
            sys.stderr.write("last words")
        run_command(command)
        """,
        tmp_path,
    )
    assert result.returncode == 0
    assert result.stdout.count("line\n") == 200_000
    assert result.stderr.endswith("last words")
    assert marker.read_text() == "yes"
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


def test_a_running_thread_is_joined_not_cut(tmp_path: Path) -> None:
    out = tmp_path / "thread-done"
    result = _run(
        f"""
        import threading, time
        from pathlib import Path
        from welfare_observatory.cli._process import run_command
        def work():
            time.sleep(0.5)
            Path({str(out)!r}).write_text("done")
        def command():
            threading.Thread(target=work).start()
            return 2
        run_command(command)
        """,
        tmp_path,
    )
    assert result.returncode == 2
    assert out.read_text() == "done"


def test_collection_is_deferred_during_start_up_then_resumes(tmp_path: Path) -> None:
    result = _run(
        """
        import gc
        from welfare_observatory.cli._process import collect_again, run_command
        def command():
            during = gc.isenabled()
            collect_again()
            print(during, gc.isenabled(), gc.get_freeze_count() > 0)
        run_command(command)
        """,
        tmp_path,
    )
    assert result.stdout.split() == ["False", "True", "True"]


def test_main_in_process_leaves_the_collector_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    main(["schema", "--help"])
    _process.collect_again()  # a no-op outside the console script
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_long_lived_freezes_only_inside_the_block() -> None:
    gc.unfreeze()
    with _process.long_lived():
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_the_console_script_builds_and_prints_json(tmp_path: Path) -> None:
    # The entry point as installed: ``run`` ends the process after the command.
    from importlib.metadata import entry_points

    (script,) = [
        e for e in entry_points(group="console_scripts") if e.name == "welfare-observatory"
    ]
    assert script.value == "welfare_observatory.cli.main:run"
    result = subprocess.run(
        [sys.executable, "-c", "from welfare_observatory.cli.main import run; run()",
         "schema", "indicator"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"title": "Indicator"' in result.stdout


@pytest.mark.parametrize(
    ("inside", "states"),
    [("collect_again()", ["False", "True", "True"]), ("pass", ["False", "False", "True"])],
)
def test_start_up_goes_on_into_the_block_until_collect_again(
    inside: str, states: list[str], tmp_path: Path
) -> None:
    # The build's end-of-load hook calls collect_again inside the block
    # (tests/pipeline/test_pipeline_load_hook.py); a block that ends before it (the build
    # stopped) resumes collection all the same.
    result = _run(
        f"""
        import gc
        from welfare_observatory.cli._process import collect_again, long_lived, run_command
        def command():
            states = []
            with long_lived(until_collect_again=True):
                states.append(gc.isenabled())
                {inside}
                states.append(gc.isenabled())
            states.append(gc.isenabled())
            print(*states)
        run_command(command)
        """,
        tmp_path,
    )
    assert result.stdout.split() == states, result.stderr


@pytest.mark.parametrize(("preset", "expected"), [(None, "system"), ("mimalloc", "mimalloc")])
def test_the_console_script_has_arrow_allocate_from_the_c_heap(
    preset: str | None, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set before any command imports pyarrow (the console script imports cli.main first);
    # a pool the user chose stays.
    monkeypatch.delenv(_process.ARROW_POOL, raising=False)
    if preset is not None:
        monkeypatch.setenv(_process.ARROW_POOL, preset)
    result = _run(
        """
        import welfare_observatory.cli.main
        from welfare_observatory.cli._process import run_command
        def command():
            import pyarrow as pa
            print(pa.default_memory_pool().backend_name)
        run_command(command)
        """,
        tmp_path,
    )
    assert result.stdout.split() == [expected], result.stderr


def test_main_in_process_leaves_the_arrow_pool_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_process.ARROW_POOL, raising=False)
    main(["schema", "--help"])
    assert _process.ARROW_POOL not in os.environ


@pytest.mark.parametrize(("preset", "expected"), [(None, "1 0"), ("2", "2")])
def test_the_console_script_starts_no_blas_threads(
    preset: str | None, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set before numpy loads OpenBLAS; a count the user chose stays. Where the system lists
    # a process's threads (Linux), the default is seen to start none when numpy loads.
    monkeypatch.delenv(_process.BLAS_THREADS, raising=False)
    if preset is not None:
        monkeypatch.setenv(_process.BLAS_THREADS, preset)
    result = _run(
        """
        import os
        import welfare_observatory.cli.main
        from welfare_observatory.cli._process import BLAS_THREADS, run_command
        def count():
            return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 0
        def command():
            before = count()
            import numpy
            started = count() - before
            print(os.environ[BLAS_THREADS], *([started] if os.environ[BLAS_THREADS] == "1" else []))
        run_command(command)
        """,
        tmp_path,
    )
    assert result.stdout.split() == expected.split(), result.stderr


def test_main_in_process_leaves_the_blas_threads_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_process.BLAS_THREADS, raising=False)
    main(["schema", "--help"])
    assert _process.BLAS_THREADS not in os.environ
