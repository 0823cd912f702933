"""Groups of questions that ask the same thing, from their sentence vectors: pure numpy.

scikit-learn is not a dependency, and the groups wanted are small and tight, so this is a
threshold linkage written out (star clustering): every question's *neighbours* are the
questions within cosine ``threshold`` of it; the question with the most neighbours seeds the
first group, which takes its neighbours not yet in a group; then the next best seed among
the rest, and so on. Each member of a group is within the threshold of its seed (no chaining
from one topic into the next through intermediate phrasings, as single linkage does), and the
result does not depend on the order the questions came in (ties go to the earlier one).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["star_clusters"]


def star_clusters(vectors: NDArray[np.floating], threshold: float) -> list[list[int]]:
    """Indexes of ``vectors`` in groups, the largest first; a question alike to no other is a
    group of one. ``vectors`` need not be normalised.

    Raises:
        ValueError: ``vectors`` is not two-dimensional.
    """
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected (n, dim) vectors, got shape {x.shape}")
    if len(x) == 0:
        return []
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    near = (x @ x.T) >= threshold
    np.fill_diagonal(near, True)
    degree = near.sum(axis=1)
    free = np.ones(len(x), dtype=bool)
    groups: list[list[int]] = []
    for seed in np.argsort(-degree, kind="stable"):
        if not free[seed]:
            continue
        members = np.flatnonzero(near[seed] & free)
        free[members] = False
        groups.append([int(seed), *(int(i) for i in members if i != seed)])
    groups.sort(key=len, reverse=True)
    return groups
