"""The one YAML reader of the project: safe tags only, aliases limited, duplicate keys refused.

Every YAML file newsstance reads (training configs, the codebook, dataset cards, MLflow's MLmodel files)
goes through `load_yaml`. PyYAML's `safe_load` builds only plain data, but it still expands aliases without
bound for whoever walks the result (a "billion laughs" document of a few hundred bytes is 10^9 nodes once
serialised or validated) and keeps the last of two equal keys without a word. Here the composed document is
measured before anything is built: more than `MAX_ALIASES` aliases, or aliases that expand the document
beyond `MAX_EXPANDED_NODES` nodes, are refused; a key given twice in one mapping is an error naming it and
both lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from corpus.errors import InputError

MAX_ALIASES = 1_000
MAX_EXPANDED_NODES = 200_000
MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(yaml.YAMLError):
    """A document refused by a limit of this loader (not a syntax error)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts aliases, measures their expansion and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _Refused(f"more than {MAX_ALIASES} aliases; refusing it (a YAML bomb?)", mark.line + 1)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:
                continue  # unhashable: SafeConstructor reports it
            if first != key_node.start_mark.line:
                raise _Refused(f"duplicate key {key!r} (first on line {first + 1})", key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: Node) -> int:
    """Nodes of the document with every alias expanded (memoised per node, so a bomb costs its node count)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Refused("an alias refers to a node that contains it (a recursive structure)",
                           node.start_mark.line + 1)
        active.add(key)
        if isinstance(node, SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        active.discard(key)
        sizes[key] = min(total, MAX_EXPANDED_NODES + 1)  # saturate: the answer is only compared with the limit
        return sizes[key]

    return size(root)


def load_yaml(text: str, where: str | Path) -> Any:
    """Parse one YAML document safely; any problem is an InputError naming `where` (and the line)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if loader.alias_count and _expanded_size(node) > MAX_EXPANDED_NODES:
            raise _Refused(f"aliases expand it to more than {MAX_EXPANDED_NODES} nodes; refusing it (a YAML bomb?)",
                           None)
        return loader.construct_document(node)
    except _Refused as e:
        raise InputError(f"{where}:{e.line}" if e.line else where, e.message) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark else str(where)
        raise InputError(at, f"not valid YAML ({getattr(e, 'problem', None) or e})") from None
    except RecursionError:
        raise InputError(where, "not valid YAML (nested too deeply)") from None
    finally:
        loader.dispose()


def read_yaml(path: Path, missing: str = "file not found") -> Any:
    """A UTF-8 YAML file through `load_yaml`; a missing or undecodable file is an InputError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, missing) from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a file") from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise InputError(path, f"cannot read ({e.strerror})") from None
    return load_yaml(text, path)
