"""Writing output files so that a failure never leaves a partial file behind, and reading
the YAML files users write (scenarios, SOPs) safely."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = ["atomic_path", "is_yaml_path", "read_yaml"]


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


def is_yaml_path(source: Any) -> bool:
    """True for a path object, or a one-line string ending in ``.yaml``/``.yml`` (else: YAML text)."""
    return isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source
                                               and source.lower().endswith((".yaml", ".yml")))


def read_yaml(source: Any, *, what: str, shape: str, error: type[Exception] = InputError) -> tuple[Any, str]:
    """Parse a YAML file (see :func:`is_yaml_path`) or YAML text with ``yaml.safe_load``.

    Returns the document and where it came from (``"<what> file 'x.yaml'"`` or
    ``"<what> text"``). Unreadable files and invalid YAML (tags included: ``safe_load``
    builds no Python objects) raise ``error`` in one line that ends with ``shape``, the
    expected layout.
    """
    import yaml

    if is_yaml_path(source):
        path = os.fspath(source)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise error(f"{what} file {path!r} cannot be read ({exc.strerror}); check the path.") from None
        where = f"{what} file {path!r}"
    else:
        text, where = source, f"{what} text"
    try:
        return yaml.safe_load(text), where
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise error(f"{where} is not valid YAML{at} ({problem}); write {shape}.") from None
