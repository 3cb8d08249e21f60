"""The one output writer: every file or folder leanops writes goes through :func:`atomic_path`.

What it guarantees, and why:

- **No input is ever replaced.** A run registers what it reads (:func:`register_input`, done
  by the CLI's loaders inside :func:`run_scope`, and by :func:`leanops.write` for the log's
  own source). A target that is one of them, by any name (``..``, a symlink, a hard link:
  compared by device and inode), or a folder holding one, is refused with one line.
- **Atomic.** The new content is written under a unique temporary name in the target's
  folder (so parallel runs never share a temp file) and moved into place only when complete.
  The old output is removed only after the new one is in place, so a full disk keeps it.
- **Devices stay devices.** ``/dev/null``, ``/dev/stdout``, ``/dev/full`` or a FIFO are
  written to directly (an error such as "no space left" is one line); block devices and
  sockets are refused.
- **One-line errors.** A folder, a missing folder, a read-only file or folder and a full
  disk raise :class:`~leanops.errors.InputError` naming the target, never a temp name.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = ["atomic_path", "preflight", "register_input", "run_scope", "check_not_input", "neutralise_formulas",
           "is_yaml_path", "read_yaml"]

_INPUTS: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar("leanops_run_inputs", default=None)


@contextlib.contextmanager
def run_scope() -> Iterator[list[Path]]:
    """A run (one CLI command): inputs registered inside it are protected from its outputs."""
    token = _INPUTS.set([])
    try:
        yield _INPUTS.get()  # type: ignore[misc]
    finally:
        _INPUTS.reset(token)


def register_input(path: str | os.PathLike[str] | None) -> None:
    """Record ``path`` as an input of the current run (no-op outside :func:`run_scope`)."""
    inputs = _INPUTS.get()
    if inputs is not None and path is not None and str(path):
        inputs.append(Path(path))


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _inside(child: Path, folder: Path) -> bool:
    try:
        c, f = child.resolve(), folder.resolve()
    except (OSError, RuntimeError):
        return False
    return f in c.parents


def check_not_input(target: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None] = ()) -> None:
    """Raise InputError when writing ``target`` would replace or change an input of this run."""
    t = Path(target)
    every = [Path(p) for p in inputs if p is not None and str(p)] + list(_INPUTS.get() or [])
    for p in every:
        if not p.exists():
            continue
        if _same(t, p) or (p.is_dir() and _inside(t, p)) or (t.is_dir() and _inside(p, t)):
            raise InputError(
                f"output {str(t)!r} is the input {str(p)!r} of this run (or holds it); "
                "refusing to overwrite an input: choose another output path."
            )


def _special(target: Path) -> bool:
    """A path under /dev or /proc (``/dev/stdout`` is a symlink to a pipe or to the file the
    shell redirected to): written to directly, never replaced by a rename."""
    try:
        a = os.path.abspath(target)
        return a.startswith(("/dev/", "/proc/")) or os.path.realpath(target).startswith(("/dev/", "/proc/"))
    except (OSError, ValueError):
        return False


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _to_device(target: Path) -> Iterator[Path]:
    """Write to a character device or FIFO directly: it must never become a regular file."""
    folder = Path(tempfile.mkdtemp(prefix="leanops-"))
    tmp = folder / ("out" + target.suffix)
    try:
        yield tmp
        if tmp.is_file():
            try:
                with open(tmp, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except OSError as exc:
                raise InputError(f"cannot write output {str(target)!r} ({_why(exc)}); choose another output path.") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing target (file or folder) is moved aside first and
    deleted only once the new one is in place. Safe against other runs doing the same."""
    if not tmp.is_dir() and not target.is_dir():
        os.replace(tmp, target)  # atomic for files
        return
    old: list[Path] = []
    try:
        for _ in range(100):
            try:
                os.rename(tmp, target)
                return
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                    raise
            aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
            try:
                os.rename(target, aside)
            except FileNotFoundError:
                continue  # another run moved it aside first: try again
            old.append(aside)
        raise InputError(f"cannot replace output {str(target)!r}: other runs keep writing it; try again.")
    finally:
        for o in old:
            shutil.rmtree(o, ignore_errors=True) if o.is_dir() else o.unlink(missing_ok=True)


def preflight(path: str | os.PathLike[str], *, directory: bool = False, overwrite: bool = True,
              inputs: Iterable[str | os.PathLike[str] | None] = ()) -> str:
    """Check an output path before any work is done: the checks of :func:`atomic_path`
    (input, folder, device, read-only, missing folder). Returns ``'device'`` for a character
    device or FIFO (written directly), else ``'file'``.
    """
    target = Path(path)
    shown = str(target)
    check_not_input(target, inputs)
    if _special(target):
        if directory:
            raise InputError(f"output {shown!r} is a device, not a folder; give a folder path.")
        return "device"
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(f"output {shown!r} cannot be used ({_why(exc)}); choose another output path.") from None
    if st is not None:
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            if directory:
                raise InputError(f"output {shown!r} is a device, not a folder; give a folder path.")
            return "device"
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise InputError(f"output {shown!r} is a device or socket, not a file; give the path of a file to write.")
        if stat.S_ISDIR(st.st_mode) and not directory:
            raise InputError(f"output {shown!r} is a folder; give the path of a file to write.")
        if not overwrite:
            raise InputError(f"output {shown!r} exists; remove it or pass overwrite=True (CLI: --overwrite).")
        if stat.S_ISREG(st.st_mode) and not st.st_mode & 0o222:
            raise InputError(f"output {shown!r} is read-only; make it writable or choose another output path.")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output folder {str(parent)!r} does not exist; create it first.")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write output {shown!r}: folder {str(parent)!r} is not writable; choose another output path.")
    return "file"


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str],
    *,
    directory: bool = False,
    overwrite: bool = True,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success.

    Parameters
    ----------
    path : path-like
        The output: a file, or a folder with ``directory=True`` (the yielded folder exists).
    directory : bool
        Write a folder (e.g. Parquet partitions) instead of a file.
    overwrite : bool
        Replace an existing ``path``; False raises InputError when it exists.
    inputs : iterable of paths
        Inputs that must not be overwritten, besides those registered for the run.

    The file gets the permissions a plain ``open(path, "w")`` would give (the umask
    applies), not the owner-only mode of a temporary file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('done', ['a.txt'])
    """
    target = Path(path)
    shown = str(target)
    if preflight(target, directory=directory, overwrite=overwrite, inputs=inputs) == "device":
        with _to_device(target) as tmp:
            yield tmp
        return
    if target.is_symlink() and target.exists():
        target = Path(os.path.realpath(target))  # replace the file it points to; the link stays a link
    parent = target.parent if str(target.parent) else Path(".")
    try:
        if directory:
            tmp_path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
        else:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=parent)
            os.close(fd)
            tmp_path = Path(tmp)
    except OSError as exc:
        raise InputError(f"cannot write output {shown!r}: folder {str(parent)!r} is not writable ({_why(exc)}); "
                         "choose another output path.") from None
    try:
        try:
            yield tmp_path
            if tmp_path.is_file():
                os.chmod(tmp_path, 0o666 & ~_umask())
            elif tmp_path.is_dir():
                os.chmod(tmp_path, 0o777 & ~_umask())
            if not overwrite and target.exists():
                raise InputError(f"output {shown!r} appeared while writing it; remove it or pass overwrite=True (CLI: --overwrite).")
            _move_into_place(tmp_path, target)
        except OSError as exc:  # full disk, read-only folder, quota: name the target, not the temp file
            raise InputError(f"cannot write output {shown!r} ({_why(exc)}); free some space or choose another output path; "
                             "any previous output is unchanged.") from None
    finally:
        if tmp_path.is_dir():
            shutil.rmtree(tmp_path, ignore_errors=True)
        elif tmp_path.exists() or tmp_path.is_symlink():
            tmp_path.unlink(missing_ok=True)



# -- CSV formula injection ------------------------------------------------------------------
# A spreadsheet runs a cell that starts with = + - @ (or a tab/CR before one) as a formula,
# e.g. =HYPERLINK(...) or +cmd|' /C calc'!A0. Such *strings* get a leading apostrophe, the
# spreadsheet convention for "text". Numbers are never touched, nor strings that read as a
# plain number ("-5", "+1.5e3"): a spreadsheet reads those as numbers, not formulas.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_plain_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return s.strip() == s and s.lower().lstrip("+-") not in ("inf", "infinity", "nan")


def neutralise_formulas(df):  # -> tuple[pandas.DataFrame, int]
    """A copy of ``df`` whose string cells that a spreadsheet would run as a formula start
    with ``'``, and how many cells were changed.

    >>> import pandas as pd
    >>> out, n = neutralise_formulas(pd.DataFrame({"a": ["=1+1", "-5", "ok", "@SUM(A1)"], "b": [-1, 2, 3, 4]}))
    >>> out["a"].tolist(), out["b"].tolist(), n
    (["'=1+1", '-5', 'ok', "'@SUM(A1)"], [-1, 2, 3, 4], 2)
    """
    import pandas as pd

    out = df.copy(deep=False)
    changed = 0
    for c in out.columns:
        col = out[c]
        if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
                or isinstance(col.dtype, pd.CategoricalDtype)):
            continue
        s = col.astype(object)
        hit = s.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_START) and not _is_plain_number(v)).astype(bool)
        n = int(hit.sum())
        if n:
            s = s.where(~hit, "'" + s[hit].astype(str))
            out[c] = s
            changed += n
    return out, changed


# -- YAML files people write (scenarios, SOPs) ----------------------------------------------

def is_yaml_path(source: Any) -> bool:
    """True for a path object, or a one-line string ending in ``.yaml``/``.yml`` (else: YAML text)."""
    return isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source
                                               and source.lower().endswith((".yaml", ".yml")))


def read_yaml(source: Any, *, what: str, shape: str, error: type[Exception] = InputError) -> tuple[Any, str]:
    """Parse a YAML file (see :func:`is_yaml_path`) or YAML text through the one loader,
    :func:`leanops._yaml.load_yaml` (``safe_load`` semantics, alias/size/nesting limits).

    Returns the document and where it came from (``"<what> file 'x.yaml'"`` or
    ``"<what> text"``). Unreadable files, invalid YAML (tags included) and documents over a
    limit raise ``error`` in one line; a syntax error ends with ``shape``, the expected layout.

    >>> read_yaml("name: x\\nrules: []", what="SOP", shape="{name: ..., rules: [...]}")
    ({'name': 'x', 'rules': []}, 'SOP text')
    """
    from ._yaml import load_yaml

    where = f"{what} file {os.fspath(source)!r}" if is_yaml_path(source) else f"{what} text"
    try:
        doc = load_yaml(os.fspath(source) if is_yaml_path(source) else source,
                        what=f"{what} file" if is_yaml_path(source) else where)
    except InputError as exc:
        msg = str(exc)
        if "not valid YAML" in msg:
            msg = msg.rstrip(".").replace("; fix the syntax", "") + f"; write {shape}."
        raise error(msg) from None
    return doc, where
