"""The default level curve is MEE6's, and level arithmetic is exact at the boundaries."""

import pytest

from synapse.ledger.curves import DEFAULT_CURVE, LevelCurve, LinearCurve, TableCurve


@pytest.mark.parametrize(("level", "total"), [(0, 0), (1, 100), (2, 255), (10, 4_675), (50, 268_375),
                                              (100, 1_899_250)])
def test_mee6_totals(level: int, total: int) -> None:
    """Total XP to reach a level matches the table members know from MEE6."""
    assert DEFAULT_CURVE.total_for(level) == total


def test_level_boundaries() -> None:
    """A balance exactly on a threshold is that level; one below is the previous level."""
    assert DEFAULT_CURVE.level_for(0) == 0
    assert DEFAULT_CURVE.level_for(99) == 0
    assert DEFAULT_CURVE.level_for(100) == 1
    assert DEFAULT_CURVE.level_for(4_674) == 9
    assert DEFAULT_CURVE.level_for(4_675) == 10
    assert DEFAULT_CURVE.level_for(-50) == 0


def test_progress_and_crossings() -> None:
    """Progress reports the position inside a level; crossings list every level newly reached."""
    progress = DEFAULT_CURVE.progress(150)
    assert (progress.level, progress.into_level, progress.for_next, progress.to_next) == (1, 50, 155, 105)
    assert list(DEFAULT_CURVE.levels_crossed(90, 300)) == [1, 2]
    assert list(DEFAULT_CURVE.levels_crossed(300, 90)) == []


def test_other_curves() -> None:
    """Linear and table curves are configurable alternatives."""
    linear = LevelCurve(LinearCurve(per_level=10))
    assert linear.level_for(35) == 3
    table = LevelCurve(TableCurve(thresholds=[10, 50, 200]))
    assert [table.level_for(b) for b in (9, 10, 49, 50, 200, 10**9)] == [0, 1, 1, 2, 3, 3]
