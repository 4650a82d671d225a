"""Units form a tree (a 分局 above its 派出所, 刑警大队, 交警大队): who sees what below.

A token bound to a unit sees that unit and every unit below it. Units arrive in any order
and may name a parent the catalogue does not know yet; a unit is then a root until its
parent arrives. Pure functions over a {unit: parent} mapping.
"""

from __future__ import annotations

from collections.abc import Mapping


def units_under(parents: Mapping[str, str | None], root: str) -> frozenset[str]:
    """`root` and every unit whose chain of parents reaches it (a cycle cannot loop)."""
    children: dict[str, list[str]] = {}
    for unit, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(unit)
    seen = {root}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return frozenset(seen)


def would_cycle(parents: Mapping[str, str | None], unit: str, parent: str | None) -> bool:
    """Whether making `parent` the parent of `unit` would put `unit` below itself."""
    seen: set[str] = set()
    while parent is not None and parent not in seen:
        if parent == unit:
            return True
        seen.add(parent)
        parent = parents.get(parent)
    return False
