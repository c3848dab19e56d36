"""Print the report's one-page HTML to a PDF with headless Chromium.

Chromium runs with a throw-away profile and every background service off (no sync, no
component updates, no QUIC), and the page is read from file://, so printing makes no
network request.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from welfare_observatory.errors import Location, PublishError

__all__ = ["CHROMIUM_CANDIDATES", "find_chromium", "print_pdf"]

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
TIMEOUT_SECONDS = 600
"""A full report (250 pages, thousands of sparklines) takes Chromium about 1.5 minutes."""


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium executable; PublishError with an install hint when there is none."""
    candidates = (explicit,) if explicit else CHROMIUM_CANDIDATES
    for candidate in candidates:
        if candidate is None:
            continue
        found = shutil.which(candidate)
        if found:
            return found
    raise PublishError(
        "--pdf needs Chromium, which was not found"
        + (f" at {explicit!r}" if explicit else " (looked for /usr/bin/chromium and on PATH)"),
        hint="install it (Debian/Ubuntu: apt-get install chromium) or build the site without --pdf",
    )


def chromium_command(chromium: str, profile: Path, html: Path, pdf: Path) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        html.resolve().as_uri(),
    ]


def print_pdf(html: Path, pdf: Path, *, chromium: str | None = None) -> Path:
    """Print ``html`` to ``pdf``; returns ``pdf``. Raises PublishError when printing fails."""
    executable = find_chromium(chromium)
    # Chromium's helper processes can still be writing into the profile when the printing
    # process has exited: a profile not removed at once must not fail a finished print.
    with tempfile.TemporaryDirectory(prefix="wo-chromium-", ignore_cleanup_errors=True) as profile:
        command = chromium_command(executable, Path(profile), html, pdf)
        try:
            run = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise PublishError(
                f"Chromium did not finish printing within {TIMEOUT_SECONDS} s",
                location=Location(file=str(html)),
            ) from exc
        except OSError as exc:
            raise PublishError(
                f"cannot run Chromium at {executable}: {exc.strerror or exc}",
                hint="check the installation: apt-get install chromium",
            ) from exc
    if run.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        detail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PublishError(
            f"Chromium could not print the report (exit {run.returncode}): {detail[0]}",
            location=Location(file=str(html)),
        )
    return pdf
