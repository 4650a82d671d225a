"""The units tree (rules/unit_tree.py), alone."""

from hypothesis import given
from hypothesis import strategies as st

from rules.unit_tree import units_under, would_cycle

TREE = {"city": None, "co": "city", "p1": "co", "p2": "co", "p1a": "p1", "traffic": "city"}


def test_a_unit_sees_itself_and_everything_below_it() -> None:
    assert units_under(TREE, "co") == {"co", "p1", "p2", "p1a"}
    assert units_under(TREE, "p1a") == {"p1a"}
    assert units_under(TREE, "city") == set(TREE)
    assert units_under(TREE, "unknown") == {"unknown"}  # a token's unit not filed yet
    # A unit naming a parent not yet known is a root meanwhile, and joins once it arrives.
    assert units_under({**TREE, "p3": "co2"}, "co") == {"co", "p1", "p2", "p1a"}
    assert "p3" in units_under({**TREE, "p3": "co2", "co2": "city"}, "city")


def test_a_unit_cannot_be_put_below_itself() -> None:
    assert would_cycle(TREE, "co", "p1a")
    assert would_cycle(TREE, "co", "co")
    assert not would_cycle(TREE, "p1a", "p2")
    assert not would_cycle(TREE, "co", None)
    assert not would_cycle(TREE, "new", "co")


units = st.sampled_from([f"u{i}" for i in range(8)])


@given(st.dictionaries(units, st.none() | units), units)
def test_a_unit_is_under_root_exactly_when_its_chain_of_parents_reaches_root(
    parents: dict[str, str | None], root: str
) -> None:
    def reaches_root(unit: str) -> bool:
        seen: set[str] = set()
        current: str | None = unit
        while current is not None and current not in seen:
            if current == root:
                return True
            seen.add(current)
            current = parents.get(current)
        return False

    assert units_under(parents, root) == {root} | {u for u in parents if reaches_root(u)}
