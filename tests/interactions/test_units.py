"""Pure parts: signature check, payload parsing, command definitions (no database)."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from synapse.errors import ValidationFailed
from synapse.interactions import verify
from synapse.interactions.definitions import commands
from synapse.interactions.models import InteractionType, parse
from tests.interactions import payloads as p

KEY = SigningKey.generate()
PUBLIC = KEY.verify_key.encode().hex()


def test_verify_accepts_only_the_exact_signed_bytes() -> None:
    body = b'{"type":1}'
    signature = KEY.sign(b"123" + body).signature.hex()
    assert verify.is_valid(public_key_hex=PUBLIC, signature_hex=signature, timestamp="123", body=body)
    assert not verify.is_valid(public_key_hex=PUBLIC, signature_hex=signature, timestamp="124", body=body)
    assert not verify.is_valid(public_key_hex=PUBLIC, signature_hex=signature, timestamp="123", body=body + b" ")
    assert not verify.is_valid(public_key_hex="nothex", signature_hex=signature, timestamp="123", body=body)
    assert not verify.is_valid(public_key_hex=PUBLIC[:10], signature_hex=signature, timestamp="123", body=body)
    assert not verify.is_valid(public_key_hex=PUBLIC, signature_hex=None, timestamp="123", body=body)


def test_parse_guild_command_with_resolved_member() -> None:
    """A guild payload: invoker from member.user with permissions; options and resolved users typed."""
    ada = p.user(1, "ada", global_name="Ada")
    bob = p.user(2, "bob")
    raw = p.command("award", p.member(ada, permissions="40", roles=["77"], nick="ada-nick"),
                    [p.user_opt("member", "2"), p.opt("amount", 5, 4)], resolved_data=p.resolved(bob))
    i = parse(raw)
    assert i.type is InteractionType.APPLICATION_COMMAND and i.guild_id == int(p.GUILD)
    assert i.invoker.user_id == 1 and i.invoker.person.name == "ada-nick"
    assert i.invoker.permissions == 40 and i.invoker.roles == frozenset({77})
    assert i.option_int("amount") == 5
    member = i.option_user("member")
    assert member is not None and member.name == "bob" and 2 in i.member_ids


def test_parse_dm_command_and_subcommand_and_focus() -> None:
    i = parse(p.command("privacy", p.user(3, "eve"), [p.sub("export")], dm=True))
    assert i.guild_id is None and i.invoker.user_id == 3 and i.invoker.permissions == 0
    assert i.subcommand == "export"
    auto = parse(p.autocomplete("award", p.member(p.user(3, "eve")), [p.opt("currency", "x", focused=True)]))
    assert auto.focused == "currency" and auto.option_str("currency") == "x"


def test_parse_lists_every_problem_with_its_path() -> None:
    raw = p.command("profile", p.member(p.user(3, "eve")))
    raw["id"] = "x1"
    raw["guild_id"] = "nope"
    with pytest.raises(ValidationFailed) as caught:
        parse(raw)
    assert {e.path for e in caught.value.errors} == {"id", "guild_id"}


def test_definitions_are_valid_discord_commands() -> None:
    """Names lower-case, descriptions 1..100, admin commands carry a string default_member_permissions."""
    for command in commands():
        assert command["name"] == command["name"].lower() and 1 <= len(command["description"]) <= 100
        assert len(command["options"]) <= 25
        required_seen_optional = False
        for option in command["options"]:
            if not option.get("required"):
                required_seen_optional = True
            else:
                assert not required_seen_optional, f"{command['name']}: required options must come first"
        if "default_member_permissions" in command:
            assert command["default_member_permissions"] == "32"
