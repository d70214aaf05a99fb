"""Checks against Discord's published API: the OpenAPI spec (through ``discord_spec.mjs``) and the
documented command rules the spec does not encode.

- :func:`check` sends items (requests, responses, values, routes) to ``discord_spec.mjs``, which
  validates them with the npm package ``discord-api-spec`` (generated from
  ``discord/discord-api-spec`` ``specs/openapi.json``; pinned in ``package.json``); it returns
  every problem as ``"<where>: <JSON path>: <what>"``.
- :func:`routes_in_source` finds every ``Route.of("METHOD", "/template", …)`` in Python files, so
  a path typo anywhere in the code is found without running it.
- :func:`command_rules` checks a command definition against the rules of Discord's "Application
  Commands" page that the OpenAPI schema leaves out (the name regex and lower case, required
  before optional, unique names, subcommand nesting, choices, the 4000-character total).
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("discord_spec.mjs")

# POST /oauth2/token is Discord's OAuth2 token endpoint (RFC 6749, form-encoded): it is not part of
# the OpenAPI document. Its form fields are checked against Discord's OAuth2 page instead.
OUTSIDE_SPEC = {("POST", "/oauth2/token")}
OAUTH_CODE_GRANT_FIELDS = {"grant_type", "code", "redirect_uri"}   # "Authorization Code Grant" (docs)


@dataclass(frozen=True)
class SourceRoute:
    method: str
    template: str
    where: str          # file:line


# Fields the spec types as int64 integers that Discord's docs define, and Synapse sends, as decimal
# strings (the API takes both): a decimal string is given to the checker as the integer it spells.
INT64_AS_STRING = {"default_member_permissions"}


def spec_form(value: Any) -> Any:
    if isinstance(value, list):
        return [spec_form(v) for v in value]
    if isinstance(value, dict):
        return {k: int(v) if k in INT64_AS_STRING and isinstance(v, str) and v.isdigit() else spec_form(v)
                for k, v in value.items()}
    return value


def check(items: list[dict[str, Any]]) -> list[str]:
    """Every problem the spec finds in ``items`` (see ``discord_spec.mjs`` for their shapes)."""
    items = [{k: spec_form(v) if k in ("body", "value") and item["kind"] != "response" else v
              for k, v in item.items()} for item in items]
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed for the Discord spec checks (scripts/setup.sh installs the packages)")
    done = subprocess.run([node, str(SCRIPT)], input=json.dumps({"items": items}), capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"discord_spec.mjs failed: {done.stderr.strip()}")
    result = json.loads(done.stdout)
    errors: list[str] = result["errors"]
    return errors


def spec_version() -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version: str = lock["packages"]["node_modules/discord-api-spec"]["version"]
    return version


def routes_in_source(files: Iterable[Path]) -> list[SourceRoute]:
    """Every ``Route.of("METHOD", "/literal template", …)`` call in ``files``."""
    found = []
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "of"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "Route"
                    and len(node.args) >= 2
                    and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args[:2])):
                method, template = (a.value for a in node.args[:2])  # type: ignore[attr-defined]
                found.append(SourceRoute(method, template, f"{path.name}:{node.lineno}"))
    return found


def route_items(routes: Iterable[SourceRoute]) -> list[dict[str, Any]]:
    return [{"kind": "route", "method": r.method, "template": r.template, "where": r.where}
            for r in routes if (r.method, r.template) not in OUTSIDE_SPEC]


# --- Discord's documented command rules (Application Commands page) --------------------------------

SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, NUMBER = 1, 2, 3, 4, 10
CHAT_INPUT = 1


def _name_char_ok(c: str) -> bool:
    # ^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$ (unicode): letters, numbers, Devanagari, Thai, - _ '
    if c in "-_'":
        return True
    if unicodedata.category(c)[0] in "LN":
        return True
    return 0x0900 <= ord(c) <= 0x097F or 0x0E00 <= ord(c) <= 0x0E7F


def _check_name(name: object, where: str, out: list[str]) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        out.append(f"{where}: name must be 1-32 characters")
        return
    bad = [c for c in name if not _name_char_ok(c)]
    if bad:
        out.append(f"{where}: name {name!r} has characters outside ^[-_'\\p{{L}}\\p{{N}}…]{{1,32}}$: {bad}")
    if name != name.lower():
        out.append(f"{where}: name {name!r} must be lower case (Discord: use the lowercase variant of any letter)")


def _characters(value: Any) -> int:
    """name + description + choice names and values, recursively (Discord's 4000-character limit)."""
    total = 0
    if isinstance(value, dict):
        for key in ("name", "description"):
            if isinstance(value.get(key), str):
                total += len(value[key])
        for choice in value.get("choices") or []:
            total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
        for option in value.get("options") or []:
            total += _characters(option)
    return total


def _check_options(options: Any, where: str, out: list[str], *, level: str) -> None:
    if not isinstance(options, list):
        return
    if len(options) > 25:
        out.append(f"{where}.options: at most 25 options, found {len(options)}")
    names = [o.get("name") for o in options if isinstance(o, dict)]
    for dup in sorted({n for n in names if names.count(n) > 1}, key=str):
        out.append(f"{where}.options: option name {dup!r} appears more than once")
    kinds = [o.get("type") for o in options if isinstance(o, dict)]
    nested = [k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds]
    if any(nested) and not all(nested):
        out.append(f"{where}.options: subcommands and groups cannot be mixed with other option types")
    if level == "group" and any(k != SUB_COMMAND for k in kinds):
        out.append(f"{where}.options: a subcommand group holds only subcommands")
    if level == "subcommand" and any(nested):
        out.append(f"{where}.options: a subcommand cannot hold subcommands or groups")
    seen_optional = None
    for i, option in enumerate(options):
        here = f"{where}.options[{i}]"
        if not isinstance(option, dict):
            out.append(f"{here}: must be an object")
            continue
        _check_name(option.get("name"), f"{here}.name", out)
        description = option.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= 100:
            out.append(f"{here}.description: must be 1-100 characters")
        kind = option.get("type")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if "required" in option:
                out.append(f"{here}.required: subcommands and groups take no 'required'")
            _check_options(option.get("options"), here, out,
                           level="group" if kind == SUB_COMMAND_GROUP else "subcommand")
            continue
        if option.get("required"):
            if seen_optional is not None:
                out.append(f"{here}: required option {option.get('name')!r} is listed after optional option "
                           f"{seen_optional!r} (required options must come first)")
        elif seen_optional is None:
            seen_optional = option.get("name")
        choices = option.get("choices")
        if choices is not None:
            if kind not in (STRING, INTEGER, NUMBER):
                out.append(f"{here}.choices: only STRING, INTEGER and NUMBER options take choices")
            if option.get("autocomplete"):
                out.append(f"{here}: autocomplete cannot be set together with choices")
            if not isinstance(choices, list) or len(choices) > 25:
                out.append(f"{here}.choices: at most 25 choices")
            for j, choice in enumerate(choices if isinstance(choices, list) else []):
                name = choice.get("name")
                if not isinstance(name, str) or not 1 <= len(name) <= 100:
                    out.append(f"{here}.choices[{j}].name: must be 1-100 characters")
                value = choice.get("value")
                if kind == STRING and (not isinstance(value, str) or not 1 <= len(value) <= 100):
                    out.append(f"{here}.choices[{j}].value: a string choice value is 1-100 characters")
        if kind == STRING:
            for key, low in (("min_length", 0), ("max_length", 1)):
                if key in option and not (isinstance(option[key], int) and low <= option[key] <= 6000):
                    out.append(f"{here}.{key}: must be an integer {low}-6000")


def command_rules(command: dict[str, Any], where: str) -> list[str]:
    """Problems with one command definition under Discord's documented rules (CHAT_INPUT)."""
    out: list[str] = []
    if command.get("type", CHAT_INPUT) != CHAT_INPUT:
        return out
    _check_name(command.get("name"), f"{where}.name", out)
    description = command.get("description")
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        out.append(f"{where}.description: must be 1-100 characters")
    _check_options(command.get("options"), where, out, level="command")
    total = _characters(command)
    if total > 4000:
        out.append(f"{where}: {total} characters of names, descriptions and choices (Discord allows 4000)")
    return out
