"""The one loader for YAML and JSON documents written by people: scenarios, SOPs, report
configs and model files.

``yaml.safe_load`` builds no objects, but it does not stop a "billion laughs" document: a
few hundred bytes of nested aliases expand to gigabytes as soon as anything walks the
result. Deep nesting overflows the recursive composer (RecursionError). So the loader
counts aliases and the size the document would have with every alias expanded, and the
nesting depth, while composing, and stops at a limit with one line that names it and the
keyword that raises it.

Limits (keyword arguments of :func:`load_yaml` / :func:`load_json`):

===============  =========  ===============================================
keyword          default    what
===============  =========  ===============================================
``max_aliases``  1,000      alias uses (``*name``) in one YAML document
``max_nodes``    1,000,000  values in the document with aliases expanded
``max_depth``    100        nesting of lists and mappings
``max_bytes``    50 MB      size of the text
===============  =========  ===============================================
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = ["load_yaml", "load_json", "MAX_ALIASES", "MAX_NODES", "MAX_DEPTH", "MAX_BYTES"]

MAX_ALIASES = 1_000
MAX_NODES = 1_000_000
MAX_DEPTH = 100
MAX_BYTES = 50_000_000


def _limit(what: str, detail: str, name: str, value: int) -> InputError:
    return InputError(f"{what} {detail}, over the limit {name}={value:,}; "
                      f"simplify the document, or raise the limit (load_yaml/load_json {name}=...) if it is genuine.")


def _text(path_or_text: str | os.PathLike[str], what: str, max_bytes: int, suffixes: tuple[str, ...]) -> tuple[str, str]:
    """(text, name) of a path, or of the text itself when it is not a path."""
    is_path = isinstance(path_or_text, os.PathLike) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and path_or_text.lower().endswith(suffixes))
    if not is_path:
        text = str(path_or_text)
        if len(text) > max_bytes:
            raise _limit(what, f"is {len(text):,} characters", "max_bytes", max_bytes)
        return text, what
    p = Path(path_or_text)
    name = f"{what} {str(p)!r}"
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise _limit(name, f"is {size:,} bytes", "max_bytes", max_bytes)
        with open(p, encoding="utf-8-sig") as fh:
            return fh.read(max_bytes + 1), name
    except FileNotFoundError:
        raise InputError(f"{name} does not exist; check the path.") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a folder; give the path of a file.") from None
    except UnicodeDecodeError:
        raise InputError(f"{name} is not UTF-8 text; save it as UTF-8.") from None
    except OSError as exc:
        raise InputError(f"{name} cannot be read ({exc.strerror}); check the path and permissions.") from None


def load_yaml(path_or_text: str | os.PathLike[str], *, what: str = "YAML document", max_aliases: int = MAX_ALIASES,
              max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """Parse YAML safely (``safe_load`` semantics) within limits.

    Parameters
    ----------
    path_or_text : str or path-like
        A path (a string ending in ``.yaml``/``.yml`` without a newline, or a PathLike), or
        the YAML text itself.
    what : str
        What the document is, for messages ("scenario file", "SOP", ...).
    max_aliases, max_nodes, max_depth, max_bytes : int
        Limits; see the module docstring.

    Raises
    ------
    InputError
        Malformed YAML (with line and column), or a limit exceeded (naming it).

    Examples
    --------
    >>> load_yaml("a: &x [1, 2]\\nb: *x\\n")
    {'a': [1, 2], 'b': [1, 2]}
    >>> load_yaml("a: [[[1]]]", max_depth=2)
    Traceback (most recent call last):
    ...
    leanops.errors.InputError: YAML document nests deeper than 2 levels, over the limit max_depth=2; ...
    """
    import yaml

    text, name = _text(path_or_text, what, max_bytes, (".yaml", ".yml"))
    sizes: dict[int, int] = {}
    state = {"aliases": 0, "depth": 0}

    class _Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                state["aliases"] += 1
                if state["aliases"] > max_aliases:
                    raise _limit(name, f"uses more than {max_aliases:,} aliases", "max_aliases", max_aliases)
                return super().compose_node(parent, index)
            state["depth"] += 1
            if state["depth"] > max_depth:
                raise _limit(name, f"nests deeper than {max_depth:,} levels", "max_depth", max_depth)
            try:
                node = super().compose_node(parent, index)
            finally:
                state["depth"] -= 1
            # expanded size: a node counts itself and its children, an alias its target's whole size
            if isinstance(node, yaml.SequenceNode):
                n = 1 + sum(sizes.get(id(c), 1) for c in node.value)
            elif isinstance(node, yaml.MappingNode):
                n = 1 + sum(sizes.get(id(k), 1) + sizes.get(id(v), 1) for k, v in node.value)
            else:
                n = 1
            sizes[id(node)] = n
            if n > max_nodes:
                raise _limit(name, f"expands to more than {max_nodes:,} values (aliases expanded)", "max_nodes", max_nodes)
            return node

    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{name} is not valid YAML{where} ({problem}); fix the syntax.") from None
    except RecursionError:
        raise _limit(name, "nests too deep to read", "max_depth", max_depth) from None
    finally:
        loader.dispose()


def _depth_ok(doc: Any, max_depth: int) -> bool:
    stack = [(doc, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            if d > max_depth:
                return False
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return True


def load_json(path_or_text: str | os.PathLike[str], *, what: str = "JSON document", max_depth: int = MAX_DEPTH,
              max_bytes: int = MAX_BYTES) -> Any:
    """Parse JSON within the depth and size limits (a path ending in ``.json``, a PathLike,
    or the text).

    >>> load_json('{"a": [1, {"b": null}]}')
    {'a': [1, {'b': None}]}
    """
    text, name = _text(path_or_text, what, max_bytes, (".json",))
    # bracket depth before parsing: the C decoder recurses and would hit RecursionError
    depth = deepest = 0
    in_str = esc = False
    if text.count("[") + text.count("{") > max_depth:
        for ch in text:
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch in "[{":
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if deepest > max_depth:
                        raise _limit(name, f"nests deeper than {max_depth:,} levels", "max_depth", max_depth)
            elif ch in "]}":
                depth -= 1
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); fix the syntax.") from None
    except RecursionError:
        raise _limit(name, "nests too deep to read", "max_depth", max_depth) from None
    if not _depth_ok(doc, max_depth):
        raise _limit(name, f"nests deeper than {max_depth:,} levels", "max_depth", max_depth)
    return doc
