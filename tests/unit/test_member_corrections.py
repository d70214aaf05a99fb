"""The pure decisions behind member corrections: which balance a level means, which balances a wallet may hold."""

from __future__ import annotations

import pytest

from synapse.errors import ValidationFailed
from synapse.ledger.curves import MAX_LEVEL, LevelCurve, LinearCurve, TableCurve
from synapse.ledger.model import Currency
from synapse.ledger.posting import MAX_AMOUNT
from synapse.services.member_admin import balance_for_level, check_reason, target_balance

XP = Currency(guild_id=1, key="xp", name="XP", levelled=True)


def paths(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [e.path for e in exc.value.errors]


def test_a_level_is_the_least_balance_that_reaches_it_on_the_currencys_curve() -> None:
    """Level L maps to the curve's threshold of L, and that balance is at level L, one less is not."""
    linear = Currency(guild_id=1, key="rep", name="Rep", levelled=True, curve=LevelCurve(LinearCurve(per_level=250)))
    assert balance_for_level(linear, 4) == 1000
    for level in (0, 1, 10, 57):
        b = balance_for_level(XP, level)
        assert XP.curve.level_for(b) == level and (level == 0 or XP.curve.level_for(b - 1) == level - 1)


def test_levels_need_a_levelled_currency_and_a_reachable_level() -> None:
    """No levels on a plain currency (path currency); outside 0..MAX_LEVEL or past a table curve (path level)."""
    with pytest.raises(ValidationFailed) as exc:
        balance_for_level(Currency(guild_id=1, key="gold", name="Gold"), 3)
    assert paths(exc) == ["currency"]
    with pytest.raises(ValidationFailed) as exc:
        balance_for_level(XP, MAX_LEVEL + 1)
    assert paths(exc) == ["level"]
    table = Currency(guild_id=1, key="t", name="T", levelled=True, curve=LevelCurve(TableCurve(thresholds=[10, 30])))
    assert balance_for_level(table, 2) == 30
    with pytest.raises(ValidationFailed) as exc:
        balance_for_level(table, 3)
    assert paths(exc) == ["level"] and "beyond" in exc.value.message


def test_negative_balances_only_where_the_currency_allows_them() -> None:
    """A no-negative currency refuses a negative target; one that allows negatives takes it; both cap at ±MAX."""
    with pytest.raises(ValidationFailed) as exc:
        target_balance(XP, -1)
    assert paths(exc) == ["balance"]
    debt = Currency(guild_id=1, key="debt", name="Debt", allow_negative=True)
    assert target_balance(debt, -40) == -40
    with pytest.raises(ValidationFailed):
        target_balance(debt, -MAX_AMOUNT - 1)
    with pytest.raises(ValidationFailed) as exc:
        check_reason("  \n ")
    assert paths(exc) == ["reason"]
    assert check_reason("  typo ") == "typo"
