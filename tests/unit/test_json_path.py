"""Error paths (``synapse.errors.json_path``): one spelling per location, whatever text the input's keys hold."""

from __future__ import annotations

from synapse.errors import json_path


def test_plain_keys_and_indexes_read_as_a_dotted_path() -> None:
    """effects[1].amount; the whole input is $."""
    assert json_path(["effects", 1, "amount"]) == "effects[1].amount"
    assert json_path([0, "name"]) == "[0].name"
    assert json_path([]) == "$"


def test_keys_that_could_read_as_path_syntax_are_quoted() -> None:
    """A key with . [ ] or a quote in it, or an empty one, is written as ["…"] and never as another path."""
    assert json_path(["["]) == '["["]'
    assert json_path(["effects", 0, "a.b"]) == 'effects[0]["a.b"]'
    assert json_path(["x", ""]) == 'x[""]'
    assert json_path(["0]"]) != json_path([0])
    assert json_path(['say "hi"']) == '["say \\"hi\\""]'


def test_skipped_parts_are_not_keys() -> None:
    """pydantic's union tags in a location are left out."""
    assert json_path(["effects", 0, "credit", "amount"], skip=frozenset({"credit"})) == "effects[0].amount"
