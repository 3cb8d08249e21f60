"""Connecting to a Dask cluster: one helper for every engine that sends work out.

``connect(address)`` returns a ``distributed.Client`` or raises :class:`InputError` with
one line naming the address, within ``timeout`` seconds, when nothing answers there. The
mining engine (``engine="dask"``) and the simulation's scenario sweeps use it, and the
CLI's ``--scheduler tcp://host:8786`` option passes its value straight here.

Start a cluster with ``dask scheduler`` on one machine and ``dask worker tcp://host:8786``
on each of the others (``pip install "leanops[dask]"`` on all of them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .errors import InputError

__all__ = ["connect", "client"]

DEFAULT_TIMEOUT = 8.0


def _probe(addr: str, shown: str, timeout: float) -> None:
    """Fail fast, before a Client exists (a failed Client lingers until exit), when nothing
    listens at a TCP address."""
    import socket
    from urllib.parse import urlsplit

    u = urlsplit(addr)
    if u.scheme not in ("tcp", "tls"):
        return
    try:
        host, port = u.hostname, u.port
    except ValueError as exc:
        raise InputError(f"scheduler address {shown!r} is not valid ({exc}); use 'tcp://host:8786'.") from None
    if not host or not port:
        raise InputError(f"scheduler address {shown!r} needs a host and a port, e.g. 'tcp://host:8786'.")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if u.scheme == "tcp":
                # a Dask scheduler sends its handshake as soon as a connection opens; something
                # that accepts and never speaks would keep the Client's own handshake waiting forever
                sock.settimeout(timeout)
                try:
                    first = sock.recv(1)
                except TimeoutError:
                    raise InputError(
                        f"no Dask scheduler answered at {shown} within {timeout:g} s (the port accepts connections "
                        "but says nothing); check the address and port, or wait longer with "
                        "'tcp://host:port?timeout=SECONDS'."
                    ) from None
                if not first:
                    raise InputError(f"no Dask scheduler answered at {shown} (the connection was closed); "
                                     "check the address and port.")
    except OSError as exc:
        why = exc.strerror or type(exc).__name__ if not isinstance(exc, TimeoutError) else "timed out"
        raise InputError(
            f"cannot reach the Dask scheduler at {shown} within {timeout:g} s ({why}); "
            "check the address and that 'dask scheduler' is running there (wait longer with '?timeout=SECONDS')."
        ) from None


def _split_timeout(addr: str, timeout: float) -> tuple[str, float]:
    """``tcp://host:8786?timeout=30`` -> (``tcp://host:8786``, 30.0): how the command line
    raises the connection timeout (Dask addresses have no query part of their own)."""
    base, sep, query = addr.partition("?")
    if not sep:
        return addr, timeout
    key, _, value = query.partition("=")
    try:
        t = float(value)
    except ValueError:
        t = float("nan")
    if key != "timeout" or not 0 < t <= 3600:
        raise InputError(f"scheduler address {addr!r}: the only option is '?timeout=SECONDS' (0-3600); "
                         "e.g. 'tcp://host:8786?timeout=30'.")
    return base, t


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise InputError('the Dask engine needs dask.distributed; install it with pip install "leanops[dask]".') from None
    return distributed


def connect(address: str, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    Parameters
    ----------
    address : str
        ``tcp://host:8786`` (a bare ``host:port`` is taken as TCP). A suffix
        ``?timeout=SECONDS`` overrides ``timeout`` (the command line's way to raise it).
    timeout : float, default 8
        Seconds to wait for the scheduler before giving up.

    Raises
    ------
    InputError
        Nothing answers at ``address`` within ``timeout`` (one line naming it), or the
        address is malformed.
    """
    distributed = _import_distributed()
    if not isinstance(address, str) or not address.strip():
        raise InputError(f"scheduler must be an address such as 'tcp://host:8786'; got {address!r}.")
    addr, timeout = _split_timeout(address.strip(), timeout)
    if "://" not in addr:
        addr = "tcp://" + addr
    import logging
    import time

    t0 = time.monotonic()
    _probe(addr, address, timeout)
    remaining = max(1.0, timeout - (time.monotonic() - t0))  # one budget for probe and handshake

    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the client logs its retries; the error below says it once
    try:
        return distributed.Client(addr, timeout=remaining, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({why[:120]}); "
            "check the address and that 'dask scheduler' is running there."
        ) from None
    except ValueError as exc:
        raise InputError(f"scheduler address {address!r} is not valid ({exc}); use 'tcp://host:8786'.") from None
    except Exception as exc:  # something answered, but not a Dask scheduler
        raise InputError(
            f"no Dask scheduler answered at {address} ({type(exc).__name__}); check the address and port."
        ) from None
    finally:
        quiet.setLevel(level)


@contextlib.contextmanager
def client(address: str | None, *, timeout: float = DEFAULT_TIMEOUT, n_workers: int = 2) -> Iterator[Any]:
    """A client for ``address``; with None, the current default client if there is one, else
    a temporary ``LocalCluster`` of ``n_workers`` single-threaded processes. Closed on exit
    when this function opened it."""
    distributed = _import_distributed()
    if address is not None:
        c = connect(address, timeout=timeout)
        try:
            yield c
        finally:
            c.close()
        return
    try:
        yield distributed.get_client()
        return
    except ValueError:
        pass
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster, set_as_default=False)
    try:
        yield c
    finally:
        c.close()
        cluster.close()
