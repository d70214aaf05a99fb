"""A milestone may only name the guild's currencies: in its criteria, nested ones included, and its rewards."""

from __future__ import annotations

import pytest

from synapse.errors import ValidationFailed
from synapse.milestones.model import validate_milestone

GUILD_CURRENCIES = frozenset({"xp", "gold"})


def test_every_unknown_currency_is_reported_with_its_path() -> None:
    data = {"key": "k", "name": "K",
            "criteria": {"type": "all", "criteria": [{"type": "balance", "currency": "gold", "at_least": 5},
                                                     {"type": "any", "criteria": [
                                                         {"type": "level", "currency": "gems", "at_least": 2}]}]},
            "rewards": [{"type": "role", "role_id": "1"}, {"type": "currency", "currency": "stars", "amount": 3}]}
    with pytest.raises(ValidationFailed) as bad:
        validate_milestone(data, currencies=GUILD_CURRENCIES)
    assert [(e.path, e.message) for e in bad.value.errors] == [
        ("criteria.criteria.1.criteria.0.currency", "no currency 'gems' in this server"),
        ("rewards.1.currency", "no currency 'stars' in this server")]
    assert validate_milestone(data).key == "k", "without the guild's currencies only the shape is checked"


def test_known_currencies_pass() -> None:
    spec = validate_milestone({"key": "k", "name": "K", "criteria": {"type": "level", "at_least": 5},
                               "rewards": [{"type": "currency", "currency": "gold", "amount": 50}]},
                              currencies=GUILD_CURRENCIES)
    assert spec.rewards[0].currency == "gold"   # type: ignore[union-attr]
