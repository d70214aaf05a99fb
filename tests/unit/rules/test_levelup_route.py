"""The default level-up announcement goes where the guild's level-up setting says (pure routing and the loop)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from synapse.processing.loop import run
from synapse.rules.decisions import Announcement, LevelUpRoute, route
from synapse.rules.defaults import default_rules
from synapse.rules.simulate import message
from tests.unit.rules.support import G, default_context, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
LEVELUP = Announcement(1, "announce:1:synapse:level_up:xp:9:1:3:0", 9, "levelup", 555, "Level up!", "GG", 1,
                       "level_up")


@pytest.mark.parametrize(("setting", "target", "channel"), [
    (LevelUpRoute("channel"), "channel", 555),
    (LevelUpRoute("fixed", 777), "fixed", 777),
    (LevelUpRoute("fixed"), "announcements", None),
    (LevelUpRoute("dm", 777), "dm", None),
])
def test_levelup_target_resolves_to_a_contract_target(setting: LevelUpRoute, target: str, channel: int | None) -> None:
    """channel → the event's channel, fixed → levelup_channel_id (else announcements), dm → a DM."""
    routed = route(LEVELUP, setting)
    assert routed is not None
    assert (routed.target, routed.channel_id) == (target, channel)
    assert routed.payload()["target"] in {"channel", "announcements", "dm", "fixed"}
    assert routed.dedupe_key == LEVELUP.dedupe_key and routed.text == LEVELUP.text


def test_off_means_no_announcement_and_other_targets_are_untouched() -> None:
    """levelup_mode off drops the announcement; an explicit target is never rerouted."""
    assert route(LEVELUP, LevelUpRoute("off")) is None
    explicit = replace(LEVELUP, target="channel")
    assert route(explicit, LevelUpRoute("dm")) is explicit


def test_setting_values_are_read_leniently() -> None:
    """Stored values become a route; unknown modes fall back to the default (the event's channel)."""
    assert LevelUpRoute.of("fixed", "123") == LevelUpRoute("fixed", 123)
    assert LevelUpRoute.of(None, None) == LevelUpRoute("channel", None)
    assert LevelUpRoute.of("loud", "x") == LevelUpRoute("channel", None)


def test_the_default_level_up_rule_follows_the_setting() -> None:
    """The default pack's level-up embed uses the setting's target, not an explicit channel."""
    [rule] = [r for r in default_rules() if r.name == "Level-up message"]
    assert rule.effects[0].target == "levelup"  # type: ignore[union-attr]


@pytest.mark.parametrize(("mode", "expected"), [
    ("channel", [("channel", "555")]), ("fixed", [("fixed", "777")]), ("dm", [("dm", None)]), ("off", []),
])
def test_loop_writes_the_level_up_row_per_setting(mode: str, expected: list[tuple[str, str | None]]) -> None:
    """Eight messages cross level 1: one level-up row in the right place, or none when off."""
    ctx = replace(default_context(), levelup=LevelUpRoute(mode, 777))
    mem = state()
    tally = run(ctx, mem, [message(G, 9, i, T0 + timedelta(minutes=2 * i), channel_id=555, event_id=i + 1)
                           for i in range(8)])
    rows = [o.payload for o in mem.outbox if o.payload.get("reason") == "level_up"]
    assert [(p["target"], p["channel_id"]) for p in rows] == expected
    assert len(tally.level_ups) == 1
    others = [o for o in mem.outbox if o.payload.get("reason") != "level_up"]
    assert tally.announcements == len(rows) + len(others)
