"""A file's stamp: what tells, without reading it, that its bytes may have changed.

The payload cache trusts a local file whose stamp is the one it recorded, and a build
trusts a saved result's file whose stamp its note holds (``build/reuse.py``). A program
can set a file's modification time back, never its change time, which writing to the file
or adding or removing a link moves.
"""

from __future__ import annotations

import os

__all__ = ["file_stamp"]


def file_stamp(status: os.stat_result) -> list[int]:
    """Size, modification and change times (ns), inode and device of ``status``."""
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev]
