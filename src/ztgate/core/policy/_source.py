"""Load YAML or JSON text into plain data while remembering where every value came from.

Strict loading needs file and line numbers in every error, so documents are composed into
YAML nodes first and converted by hand. The conversion also refuses the YAML features a
policy has no use for and an attacker might: aliases (billion-laughs expansion), merge
keys, custom tags and duplicate mapping keys (the second would silently win otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from ztgate.errors import Problem, SourceLocation

PathKey = str | int
DocPath = tuple[PathKey, ...]

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


def format_path(path: DocPath) -> str:
    """Render a document path the way users write it: ``policies[0].rules[2].args``."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else key
    return out


@dataclass(slots=True)
class SourceMap:
    """Line and column of every value of a loaded document, keyed by document path."""

    file: str
    positions: dict[DocPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: DocPath) -> SourceLocation:
        """The location of ``path``, or of its nearest located ancestor."""
        probe = path
        while True:
            found = self.positions.get(probe)
            if found is not None:
                return SourceLocation(self.file, found[0], found[1])
            if not probe:
                return SourceLocation(self.file)
            probe = probe[:-1]

    def problem(self, path: DocPath, message: str) -> Problem:
        return Problem(message, self.locate(path), format_path(path))


# libyaml composes several times faster and records the same line and column marks; the
# pure-Python loader is the fallback where PyYAML was built without it.
_ComposeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_ComposeBase):  # type: ignore[valid-type,misc]
    """Loader used only for node composition; scalars are resolved by ``SafeLoader``."""


class _Refused(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def load_text(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse ``text`` (YAML 1.1 or JSON) into plain data and its :class:`SourceMap`.

    Every failure raises :class:`SourceError` carrying the problems with their locations.
    """
    smap = SourceMap(file)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise SourceError([Problem("document is larger than 4 MiB", SourceLocation(file))])
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        loc = SourceLocation(file, mark.line + 1, mark.column + 1) if mark else SourceLocation(file)
        what = error.problem or "malformed document"
        raise SourceError([Problem(f"cannot parse: {what}", loc)]) from None
    except yaml.YAMLError as error:
        raise SourceError([Problem(f"cannot parse: {error}", SourceLocation(file))]) from None
    if node is None:
        return None, smap
    constructor = yaml.SafeLoader("")
    try:
        data = _convert(node, (), smap, constructor, set())
    except _Refused as refused:
        mark = refused.node.start_mark
        loc = SourceLocation(file, mark.line + 1, mark.column + 1)
        raise SourceError([Problem(refused.message, loc)]) from None
    finally:
        constructor.dispose()
    return data, smap


def _convert(
    node: yaml.Node, path: DocPath, smap: SourceMap, ctor: yaml.SafeLoader, seen: set[int]
) -> Any:
    # An alias makes the composer hand out the same node object twice.
    if id(node) in seen:
        raise _Refused(node, "aliases (`*name`) are not allowed")
    seen.add(id(node))
    smap.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise _Refused(node, f"tag `{node.tag}` is not allowed")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(key_node, "merge keys (`<<`) are not allowed")
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node, "mapping keys must be plain strings")
            key = ctor.construct_object(key_node)
            if not isinstance(key, str):
                # YAML turns `on`, `yes`, `1` into bools and ints; in a policy a key is a name.
                key = str(key_node.value)
            if key in result:
                raise _Refused(key_node, f"duplicate key `{key}`")
            result[key] = _convert(value_node, (*path, key), smap, ctor, seen)
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise _Refused(node, f"tag `{node.tag}` is not allowed")
        return [_convert(item, (*path, i), smap, ctor, seen) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            raise _Refused(node, f"tag `{node.tag}` is not allowed")
        return ctor.construct_object(node)
    raise _Refused(node, "unsupported YAML node")


class SourceError(Exception):
    """Problems found while reading a document; converted to the caller's error type."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems
