"""Group items joined by pairwise links (duplicate instances, pieces of one crack cut by tiles)."""

from __future__ import annotations

from collections.abc import Iterable


def linked_groups(count: int, links: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components of ``count`` items under undirected ``links``, each a sorted index list.

    Groups are ordered by their smallest member, so the result does not depend on
    the order of ``links``; an item without links is a group of its own. A
    union-find in plain Python: the graphs here have tens of items, and SciPy's
    sparse graph module would add 0.4 s to the batch command's start-up.
    """
    parent = list(range(count))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving
            item = parent[item]
        return item

    for first, second in links:
        first_root, second_root = root(int(first)), root(int(second))
        if first_root != second_root:
            parent[max(first_root, second_root)] = min(first_root, second_root)
    groups: dict[int, list[int]] = {}
    for item in range(count):
        groups.setdefault(root(item), []).append(item)
    return sorted(groups.values(), key=lambda members: members[0])
