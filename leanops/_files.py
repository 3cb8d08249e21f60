"""Writing output files so that a failure never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success.

    The file gets the permissions a plain ``open(path, "w")`` would give (the umask
    applies), not the owner-only mode of a temporary file.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise InputError(f"output {str(target)!r} is a folder; give the path of a file to write.")
    if not parent.is_dir():
        raise InputError(f"output folder {str(parent)!r} does not exist; create it first.")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        if tmp_path.is_file():
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.is_file():
            tmp_path.unlink()
