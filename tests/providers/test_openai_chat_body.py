"""A chat.completion body read directly (the usual shape) gives what the wire models give, and any
other shape is left to the wire models: the same Completion, or the same error, for every body."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.providers import openai_chat
from app.providers.base import Completion
from app.providers.errors import ProviderError
from tests.providers.test_openai_chat import DOC_RESPONSE


def outcome(read: Any, body: bytes) -> Completion | tuple[str, str]:
    try:
        return read(body)
    except ProviderError as exc:
        return (exc.error_class.value, str(exc))


def edited(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """DOC_RESPONSE with the value at `path` replaced (a missing sentinel deletes the key)."""
    body = copy.deepcopy(DOC_RESPONSE)
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    if value is MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


MISSING = object()
CHOICE = ("choices", 0)
EDITS: list[tuple[tuple[Any, ...], Any]] = [
    (("id",), None), (("id",), MISSING), (("id",), 7),
    (("choices",), []), (("choices",), MISSING), (("choices",), {"0": {}}),
    (("choices",), [DOC_RESPONSE["choices"][0], {"index": 1}]),
    (("choices",), [DOC_RESPONSE["choices"][0], "x"]),
    ((*CHOICE, "message"), None), ((*CHOICE, "message"), MISSING), ((*CHOICE, "message"), "hi"),
    ((*CHOICE, "message", "content"), None), ((*CHOICE, "message", "content"), ""),
    ((*CHOICE, "message", "content"), MISSING), ((*CHOICE, "message", "content"), 5),
    ((*CHOICE, "message", "content"), ["a"]),
    ((*CHOICE, "finish_reason"), None), ((*CHOICE, "finish_reason"), MISSING),
    ((*CHOICE, "finish_reason"), 1),
    (("usage",), None), (("usage",), MISSING), (("usage",), "12"),
    (("usage", "prompt_tokens"), "1117"), (("usage", "prompt_tokens"), 1117.0),
    (("usage", "prompt_tokens"), 1117.5), (("usage", "prompt_tokens"), True),
    (("usage", "prompt_tokens"), -3), (("usage", "prompt_tokens"), 10**12),
    (("usage", "prompt_tokens"), MISSING), (("usage", "completion_tokens"), None),
    (("usage", "prompt_tokens_details"), None), (("usage", "prompt_tokens_details"), MISSING),
    (("usage", "prompt_tokens_details"), []), (("usage", "prompt_tokens_details", "cached_tokens"), None),
    (("usage", "prompt_tokens_details", "cached_tokens"), MISSING),
    (("usage", "prompt_tokens_details", "cached_tokens"), "5"),
    (("usage", "prompt_tokens_details", "cached_tokens"), 5000),
    (("usage", "prompt_tokens_details", "cached_tokens"), 0.5),
    (("usage", "completion_tokens_details"), None),
    (("usage", "completion_tokens_details", "reasoning_tokens"), None),
    (("usage", "completion_tokens_details", "reasoning_tokens"), 2.0),
    (("usage", "completion_tokens_details", "reasoning_tokens"), 1.5),
]
RAW = [b"", b"null", b"[]", b'"chat"', b'{"choices": [{"mess', b"{}", b'{"choices": [{"message": {}}]}',
       b'{"choices": [{"message": {"content": "a\\ud800"}}]}', b'{"choices": [{"message": {}}], "usage": {'
       b'"prompt_tokens": 18446744073709551616, "completion_tokens": 1}}']


@pytest.mark.parametrize(("path", "value"), EDITS,
                         ids=[f"{'.'.join(map(str, p))}={v!r}"[:60] for p, v in EDITS])
def test_an_edited_body_reads_as_the_wire_models_read_it(path: tuple[Any, ...], value: Any) -> None:
    body = orjson.dumps(edited(path, value))
    assert outcome(openai_chat.from_wire, body) == outcome(openai_chat._validated_completion, body)


@pytest.mark.parametrize("body", RAW)
def test_a_body_of_another_shape_reads_as_the_wire_models_read_it(body: bytes) -> None:
    assert outcome(openai_chat.from_wire, body) == outcome(openai_chat._validated_completion, body)


def test_the_usual_body_is_read_without_the_wire_models(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = openai_chat._validated_completion(orjson.dumps(DOC_RESPONSE))
    assert expected.usage is not None and expected.usage.cached_tokens == 1024  # the check is meaningful

    def refuse(body: bytes) -> Completion:
        raise AssertionError("the usual body went through the wire models")

    monkeypatch.setattr(openai_chat, "_validated_completion", refuse)
    assert openai_chat.from_wire(orjson.dumps(DOC_RESPONSE)) == expected


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8)
FIELDS = st.sampled_from([("id",), (*CHOICE, "message"), (*CHOICE, "message", "content"),
                          (*CHOICE, "finish_reason"), ("usage",), ("usage", "prompt_tokens"),
                          ("usage", "completion_tokens"), ("usage", "prompt_tokens_details"),
                          ("usage", "completion_tokens_details", "reasoning_tokens")])


def put(body: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set the value at `path` where the path still leads somewhere (an earlier change may cut it)."""
    node = body
    for key in path[:-1]:
        into_dict = isinstance(node, dict) and isinstance(node.get(key), dict | list)
        into_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if not (into_dict or into_list):
            return
        node = node[key]
    if isinstance(node, dict):
        node[path[-1]] = value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(FIELDS, JSON), min_size=1, max_size=3))
def test_any_value_in_any_field_reads_as_the_wire_models_read_it(
    changes: list[tuple[tuple[Any, ...], Any]],
) -> None:
    body: Any = copy.deepcopy(DOC_RESPONSE)
    for path, value in changes:
        put(body, path, value)
    raw = json.dumps(body).encode()  # any integer, unlike orjson's 64 bits
    assert outcome(openai_chat.from_wire, raw) == outcome(openai_chat._validated_completion, raw)
