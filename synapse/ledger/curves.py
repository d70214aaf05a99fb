"""Level curves: pure maps between a balance and a level.

The default is the curve members know from MEE6: going from level n to n+1
costs 5n² + 50n + 100 XP, so reaching level 1 takes 100 XP in total, level 10
4,675 XP, level 50 268,375 XP and level 100 1,899,250 XP.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_LEVEL = 1000


class PolynomialCurve(BaseModel):
    """XP from level n to n+1 = a·n² + b·n + c."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["polynomial"] = "polynomial"
    a: int = Field(5, ge=0)
    b: int = Field(50, ge=0)
    c: int = Field(100, ge=1)

    def step(self, level: int) -> int:
        return self.a * level * level + self.b * level + self.c


class LinearCurve(BaseModel):
    """Every level costs the same amount."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["linear"] = "linear"
    per_level: int = Field(1000, ge=1)

    def step(self, level: int) -> int:
        return self.per_level


class TableCurve(BaseModel):
    """Explicit cumulative thresholds: ``thresholds[i]`` is the total needed for level i+1."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["table"] = "table"
    thresholds: list[int] = Field(min_length=1, max_length=MAX_LEVEL)

    def step(self, level: int) -> int:
        if level < len(self.thresholds):
            previous = self.thresholds[level - 1] if level else 0
            return max(1, self.thresholds[level] - previous)
        return 10**15  # past the table: unreachable


CurveSpec = Annotated[PolynomialCurve | LinearCurve | TableCurve, Field(discriminator="type")]

MEE6 = PolynomialCurve()


@dataclass(frozen=True)
class Progress:
    level: int
    into_level: int   # balance above the current level's threshold
    for_next: int     # size of the current level (threshold to threshold)

    @property
    def to_next(self) -> int:
        return self.for_next - self.into_level


class LevelCurve:
    """A curve with its cumulative thresholds precomputed (levels 0..MAX_LEVEL)."""

    def __init__(self, spec: PolynomialCurve | LinearCurve | TableCurve = MEE6) -> None:
        self.spec = spec

    @cached_property
    def _totals(self) -> list[int]:
        totals = [0]
        for level in range(MAX_LEVEL):
            totals.append(totals[-1] + self.spec.step(level))
        return totals

    def total_for(self, level: int) -> int:
        """Cumulative balance needed to reach ``level``."""
        if not 0 <= level <= MAX_LEVEL:
            raise ValueError(f"level must be within 0..{MAX_LEVEL}")
        return self._totals[level]

    def level_for(self, balance: int) -> int:
        if balance <= 0:
            return 0
        return bisect.bisect_right(self._totals, balance) - 1

    def crosses(self, before: int, after: int) -> bool:
        """Are ``before`` and ``after`` on different levels? (``levels_crossed`` without the range.)"""
        totals = self._totals
        return bisect.bisect_right(totals, before if before > 0 else 0) != \
            bisect.bisect_right(totals, after if after > 0 else 0)

    def progress(self, balance: int) -> Progress:
        level = self.level_for(balance)
        if level >= MAX_LEVEL:
            return Progress(level, 0, 0)
        base = self._totals[level]
        return Progress(level, max(0, balance) - base, self._totals[level + 1] - base)

    def levels_crossed(self, before: int, after: int) -> range:
        """Levels newly reached when a balance moves from ``before`` to ``after`` (empty if none)."""
        return range(self.level_for(before) + 1, self.level_for(after) + 1)


DEFAULT_CURVE = LevelCurve(MEE6)
