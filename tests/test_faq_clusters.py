"""Grouping questions by their vectors: tight groups, no chaining, any order."""

from __future__ import annotations

import numpy as np
import pytest

from bot.faq.clusters import star_clusters


def _at(*degrees: float) -> np.ndarray:
    """Unit vectors in a plane, at these angles (cosine of 60 degrees is 0.5)."""
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


@pytest.mark.parametrize(
    ("degrees", "groups"),
    [
        ((0, 10, 20, 90, 100, 180), [{0, 1, 2}, {3, 4}, {5}]),  # two topics and a stray
        # single linkage would chain 0~50~100~150 into one group; a group has one centre
        ((0, 50, 100, 150), [{0, 1, 2}, {3}]),
        ((), []),
    ],
)
def test_questions_group_by_closeness_to_their_seed(
    degrees: tuple[float, ...], groups: list[set[int]]
) -> None:
    found = star_clusters(_at(*degrees).reshape(len(degrees), 2), threshold=0.5)
    assert sorted(map(set, found), key=min) == sorted(groups, key=min)


def test_the_order_questions_came_in_does_not_change_the_groups() -> None:
    vectors = _at(0, 10, 20, 90, 100, 180, 185)
    order = np.array([6, 3, 0, 5, 1, 4, 2])
    found = star_clusters(vectors[order], threshold=0.5)
    assert sorted(({int(order[i]) for i in g} for g in found), key=min) == [
        {0, 1, 2},
        {3, 4},
        {5, 6},
    ]


def test_a_vector_list_that_is_not_two_dimensional_is_refused() -> None:
    with pytest.raises(ValueError, match="expected"):
        star_clusters(np.zeros(3), threshold=0.5)
