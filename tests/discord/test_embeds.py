"""Embed builders: user-supplied text can neither ping everyone nor break the formatting."""

from __future__ import annotations

from synapse.discord import embeds as E


def test_escape_markdown_renders_names_literally() -> None:
    """Markdown characters in a display name are escaped."""
    assert E.escape_markdown("**bold**_x_ `c` ~~s~~ ||spoiler|| [l](u)") == (
        r"\*\*bold\*\*\_x\_ \`c\` \~\~s\~\~ \|\|spoiler\|\| \[l\]\(u\)")


def test_mass_and_role_mentions_are_neutralised() -> None:
    """@everyone, @here (any case) and role mentions get a zero-width space; user mentions stay."""
    text = E.neutralise_mentions("@everyone @HERE <@&123> <@42>")
    assert text == f"@{E.ZWSP}everyone @{E.ZWSP}HERE <@{E.ZWSP}&123> <@42>"


def test_safe_allowed_mentions_never_parses_everyone_or_roles() -> None:
    """Only the listed members are pingable."""
    assert E.safe_allowed_mentions(["42", 42, "x"]) == {"parse": [], "users": ["42"], "roles": [],
                                                        "replied_user": False}
    narrowed = E.narrow_allowed_mentions({"parse": ["everyone", "users", "roles"]}, ["42"])
    assert narrowed["parse"] == [] and narrowed["users"] == ["42"]
    assert E.narrow_allowed_mentions({"users": ["43"]}, ["42"])["users"] == []


def test_level_up_embed_escapes_user_supplied_values() -> None:
    """A hostile display name or currency name renders inertly; the member mention is real."""
    embed = E.level_up_embed(user_id=42, display_name="@everyone", level=5, currency="**XP**",
                             template="{mention} ({name}) reached level {level} in {currency}")
    assert embed["description"] == rf"<@42> (@{E.ZWSP}everyone) reached level 5 in \*\*XP\*\*"
    assert embed["title"] == "Level 5!"


def test_milestone_embed_keeps_custom_emoji_and_unknown_placeholders() -> None:
    """Admin-set emoji pass through unescaped; a typo'd placeholder shows instead of crashing."""
    embed = E.milestone_embed(user_id=7, display_name="ada", milestone="First_Steps",
                              emoji="<:party_blob:1>", template="{mention} {milestone} {emoji} {oops}")
    assert embed["description"] == r"<@7> First\_Steps <:party_blob:1> {oops}"


def test_sanitise_embed_truncates_to_discord_limits() -> None:
    """Title 256, description 4096, 25 fields, field values 1024; bad colours dropped."""
    embed = E.sanitise_embed({"title": "t" * 300, "description": "d" * 5000, "color": -1,
                              "fields": [{"name": "n", "value": "v" * 2000}] * 30})
    assert len(embed["title"]) == 256 and len(embed["description"]) == 4096
    assert "color" not in embed
    assert len(embed["fields"]) == 25 and len(embed["fields"][0]["value"]) == 1024
