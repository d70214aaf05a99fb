"""NCRONTAB schedules (``{second} {minute} {hour} {day} {month} {day-of-week}``), as timer triggers use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
          "oct": 10, "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.lower().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError(f"bad step in {text!r}")
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = int(_NAMES.get(a, a)), int(_NAMES.get(b, b))
        else:
            start = int(_NAMES.get(part, part))
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"{text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ValueError(f"NCRONTAB needs 6 fields (second minute hour day month day-of-week): {expression!r}")
        fields = [_field(p, lo, hi) for p, (lo, hi) in zip(parts, _RANGES, strict=True)]
        return cls(*fields)

    def _day_matches(self, t: datetime) -> bool:
        return (t.month in self.months and t.day in self.days
                and (t.isoweekday() % 7) in self.weekdays)

    def next_after(self, t: datetime) -> datetime:
        """The first firing time strictly after ``t`` (same time zone as ``t``)."""
        candidate = t.replace(microsecond=0) + timedelta(seconds=1)
        for _ in range(366 * 24 * 60):
            if self._day_matches(candidate) and candidate.hour in self.hours and candidate.minute in self.minutes:
                later = [s for s in sorted(self.seconds) if s >= candidate.second]
                if later:
                    return candidate.replace(second=later[0])
            candidate = candidate.replace(second=0) + timedelta(minutes=1)
        raise ValueError("schedule never fires within a year")
