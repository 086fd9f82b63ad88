"""Group items joined by pairwise links (duplicate instances, pieces of one crack cut by tiles)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def linked_groups(count: int, links: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components of ``count`` items under undirected ``links``, each a sorted index list.

    Groups are ordered by their smallest member, so the result does not depend on
    the order of ``links``; an item without links is a group of its own.
    """
    pairs = np.asarray(list(links), dtype=np.int64).reshape(-1, 2)
    if count == 0:
        return []
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(index)
    return sorted(groups.values(), key=lambda members: members[0])
