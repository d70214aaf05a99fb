"""Member-supplied text in announcement templates renders inertly; the admin's template keeps its markdown."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from synapse.eventlake.events import DISCORD, SYNAPSE, Actor, Event
from synapse.rules.engine import evaluate
from synapse.rules.text import ZWSP, escape, escape_values
from tests.unit.rules.support import ruleset, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
NASTY = "**x** @everyone [a](http://e)"
INERT = f"\\*\\*x\\*\\* @{ZWSP}everyone \\[a\\](http://e)"


def _announce(template: str, *, title: str = "", trigger: str = "member_join") -> dict[str, object]:
    return {"name": "Say", "module": "announcements", "trigger": {"event": trigger},
            "effects": [{"type": "announce", "target": "announcements", "title": title, "template": template}]}


def _join(name: str) -> Event:
    return Event(DISCORD, "member_join:7", "member_join", 1, 7, None, T0, {"is_bot": False}, Actor(name=name))


def test_escape_makes_markdown_links_and_mass_mentions_literal() -> None:
    """Bold, link brackets and @everyone in a name come out escaped and unable to ping."""
    assert escape(NASTY) == INERT
    assert escape("a_b ~~s~~ `c` ||sp|| > q # h \\") == "a\\_b \\~\\~s\\~\\~ \\`c\\` \\|\\|sp\\|\\| \\> q \\# h \\\\"
    assert escape("@here and @EVERYONE") == f"@{ZWSP}here and @{ZWSP}EVERYONE"
    assert escape("<@&123> <@45> <@!6> <#7>") == f"<@&{ZWSP}123\\> <@{ZWSP}45\\> <@!{ZWSP}6\\> <\\#{ZWSP}7\\>"


def test_escape_values_keeps_our_own_values_and_numbers() -> None:
    """Values we built (a mention) and numbers pass unchanged; text is escaped."""
    out = escape_values({"mention": "<@7>", "level": 5, "name": "*n*"}, raw=frozenset({"mention"}))
    assert out == {"mention": "<@7>", "level": 5, "name": "\\*n\\*"}


def test_display_name_renders_inertly_in_a_template_that_keeps_its_own_markdown() -> None:
    """``{user}`` is escaped; the admin's ``**`` around it still formats; the mention placeholder still pings."""
    rules = ruleset(_announce("Welcome **{user}** ({mention})!", title="Hi {user}"))
    ev = evaluate(rules, _join(NASTY), state(), explain=False)
    [a] = ev.announcements
    assert a.text == f"Welcome **{INERT}** (<@7>)!"
    assert a.title == f"Hi {INERT}"
    assert "@everyone" not in a.text and "](" not in a.text.replace("\\](", "")


def test_member_without_a_name_is_shown_as_a_working_mention() -> None:
    """The ``{user}`` fallback is our own ``<@id>``, not escaped into plain text."""
    rules = ruleset(_announce("Hello {user}"))
    event = Event(DISCORD, "member_join:7", "member_join", 1, 7, None, T0, {"is_bot": False}, None)
    [a] = evaluate(rules, event, state(), explain=False).announcements
    assert a.text == "Hello <@7>"


def test_milestone_names_written_by_admins_are_escaped_too() -> None:
    """A milestone named with markdown and a role mention renders literally in the default milestone embed."""
    rules = ruleset(_announce("{mention} earned **{milestone_name}** ({milestone})",
                              title="Milestone: {milestone_name}", trigger="milestone_earned"))
    event = Event(SYNAPSE, "milestone_earned:k:7", "milestone_earned", 1, 7, 501, T0,
                  {"milestone": "top_dog", "name": "<@&99> [Top](http://x) _dog_", "announce": True},
                  Actor(name="m7"))
    [a] = evaluate(rules, event, state(), explain=False).announcements
    assert a.text == f"<@7> earned **<@&{ZWSP}99\\> \\[Top\\](http://x) \\_dog\\_** (top\\_dog)"
    assert a.title == f"Milestone: <@&{ZWSP}99\\> \\[Top\\](http://x) \\_dog\\_"


@given(st.text(max_size=40))
def test_no_escaped_value_can_ping_everyone_or_a_role(name: str) -> None:
    """Whatever the name, the escaped text contains no live @everyone/@here or role mention."""
    out = escape(name)
    assert "@everyone" not in out.lower() and "@here" not in out.lower()
    assert re.search(r"<@[!&]?\d|<#\d", out) is None


@given(st.text(alphabet=st.sampled_from(list("ab1 \\*_~`|>#[]@<&!:é")) | st.characters(), max_size=24))
def test_escape_skips_only_text_with_nothing_to_escape(text: str) -> None:
    """The fast path (no special character: returned as is) gives what the full escape gives."""
    from synapse.rules.text import _MARKDOWN, neutralise_mentions

    assert escape(text) == _MARKDOWN.sub(r"\\\1", neutralise_mentions(text))
