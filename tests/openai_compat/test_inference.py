"""Task inference from messages, hint precedence, and model resolution: pure, no server."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.config.catalog import Catalog
from app.config.enums import BudgetTier, Region, TaskType
from app.errors import BadRequest
from app.openai_compat.errors import ModelNotFound
from app.openai_compat.hints import hint_headers, resolve_hints
from app.openai_compat.inference import (
    CODE_ASK,
    CODE_FENCE,
    CODE_LINES,
    LONG_DOCUMENT_CHARS,
    RULES,
    infer_task,
)
from app.openai_compat.pinning import resolve_model, task_for_pin
from app.openai_compat.wire import ChatCompletionRequest
from app.routing.schemas import ChatMessage


def user(text: str, system: str | None = None) -> list[ChatMessage]:
    messages = [ChatMessage(role="system", content=system)] if system else []
    return [*messages, ChatMessage(role="user", content=text)]


@pytest.mark.parametrize(("messages", "task", "rule"), [
    (user("What's a good name for a cat?"), TaskType.CHAT, "default"),
    ([ChatMessage(role="user", content=[{"type": "text", "text": "What is this?"},
                                        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}])],
     TaskType.VISION, "image"),
    (user("Why does this crash?\n```\nx = [][0]\n```"), TaskType.CODE, "code"),
    (user("import os\nprint(os.listdir())\nwhat does it print"), TaskType.CODE, "code"),
    (user("Please write a Python function that reverses a list"), TaskType.CODE, "code"),
    (user("Translate 'thank you' into Japanese"), TaskType.TRANSLATION, "translation"),
    (user("How do you say goodbye in Spanish?"), TaskType.TRANSLATION, "translation"),
    (user("Give me a TL;DR of the meeting notes below: ..."), TaskType.SUMMARIZATION, "summarize"),
    (user("Who founded the company?", system="Answer using the provided documents only."),
     TaskType.RAG, "documents"),
    (user("What's the latest news on the Mars mission?"), TaskType.WEB_SEARCH, "web"),
    (user("Prove that the square root of 2 is irrational"), TaskType.REASONING, "reasoning"),
    (user("word " * (LONG_DOCUMENT_CHARS // 5 + 1)), TaskType.SUMMARIZATION, "long_document"),
])
def test_rules_pick_the_task(messages: list[ChatMessage], task: TaskType, rule: str) -> None:
    inferred = infer_task(messages)
    assert (inferred.task, inferred.rule) == (task, rule)


def test_the_last_user_message_decides_not_an_earlier_one() -> None:
    messages = [ChatMessage(role="user", content="Translate 'hi' into French"),
                ChatMessage(role="assistant", content="Salut"),
                ChatMessage(role="user", content="Thanks! How are you today?")]
    assert infer_task(messages).task is TaskType.CHAT


def request(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "auto", "messages": [{"role": "user", "content": "Hello"}], **fields})


def test_body_hints_win_over_headers_which_win_over_inference_and_defaults() -> None:
    headers = {"x-router-task": "code", "x-router-budget": "high", "x-router-region": "EU",
               "x-router-requires-sla": "true"}
    from_headers = resolve_hints(request(), headers)
    assert (from_headers.task, from_headers.task_source, from_headers.budget, from_headers.region,
            from_headers.requires_sla) == (TaskType.CODE, "header", BudgetTier.HIGH, Region.EU, True)
    from_body = resolve_hints(request(task_type="rag", budget="low", requires_sla=False), headers)
    assert (from_body.task, from_body.budget, from_body.requires_sla) == (TaskType.RAG, BudgetTier.LOW, False)
    bare = resolve_hints(request(), {})
    assert (bare.task_source, bare.budget, bare.budget_source) == ("inferred:default", BudgetTier.MEDIUM,
                                                                    "default")


def test_hint_headers_keep_the_first_of_each_router_header_and_nothing_else() -> None:
    raw = [(b"content-type", b"application/json"), (b"x-router-budget", b"low"),
           (b"authorization", b"Bearer sk-x"), (b"x-router-task", b"code"),
           (b"x-router-budget", b"high"), (b"x-request-id", b"r1"), (b"x-routerish", b"no")]
    assert hint_headers(raw) == {"x-router-budget": "low", "x-router-task": "code"}
    hints = resolve_hints(request(), hint_headers(raw))
    assert (hints.task, hints.task_source, hints.budget) == (TaskType.CODE, "header", BudgetTier.LOW)


def test_a_bad_header_value_names_the_header_and_the_allowed_values() -> None:
    with pytest.raises(BadRequest) as caught:
        resolve_hints(request(), {"x-router-region": "mars"})
    assert caught.value.details == {"param": "x-router-region", "allowed": ["eu", "us", "global"]}


def test_models_resolve_by_id_bare_name_or_auto(catalog: Catalog) -> None:
    assert resolve_model(catalog, "auto") is None
    pin = resolve_model(catalog, "openrouter/meta-llama/llama-3.3-70b-instruct")
    assert pin is not None and pin.name == "openrouter/meta-llama/llama-3.3-70b-instruct"
    assert (pin.provider, pin.model) == ("openrouter", "meta-llama/llama-3.3-70b-instruct")
    bare = resolve_model(catalog, "claude-haiku-4-5")
    assert bare is not None and bare.provider == "anthropic"  # first provider of the catalog that has it
    with pytest.raises(ModelNotFound):
        resolve_model(catalog, "openai/gpt-9")


def test_an_inferred_task_the_pinned_model_lacks_becomes_chat_but_images_stay_vision(
    catalog: Catalog,
) -> None:
    pin = resolve_model(catalog, "deepseek/deepseek-chat")
    assert pin is not None and TaskType.VISION not in pin.spec.capabilities
    lacking = next(t for t in TaskType if t not in pin.spec.capabilities and t is not TaskType.VISION)
    assert task_for_pin(pin, lacking, "inferred:x") is TaskType.CHAT
    assert task_for_pin(pin, lacking, "body") is lacking  # asked for explicitly: kept, and refused later
    assert task_for_pin(pin, TaskType.VISION, "inferred:image") is TaskType.VISION


def test_unsupported_options_are_refused_and_ignored_ones_are_named() -> None:
    with pytest.raises(BadRequest) as caught:
        request(response_format={"type": "json_object"}).check_supported()
    assert caught.value.details["param"] == "response_format"
    request(response_format={"type": "text"}, tools=[], n=1).check_supported()
    assert request(top_p=0.5, seed=3, stop=["\n"]).ignored() == ["top_p", "stop", "seed"]


def by_regex_alone(ask: str, system: str) -> str:
    """The rules as plain scans, without the word pre-check infer_task uses to skip them."""
    both = f"{system}\n{ask}"
    if CODE_FENCE.search(ask) or CODE_LINES.search(ask) or CODE_ASK.search(both):
        return "code"
    for pattern, _words, _task, rule in RULES:
        if pattern.search(both):
            return rule
    return "default"


# Pieces that make the rules match, miss by a letter, or fold case oddly (U+017F is a long s).
PIECES = ["Translate", "into FRENCH", "in german.", "summarise", "TL;DR", "tldr", "Key Points",
          "based on the following documents", "using the provided context", "Context:", "search the web",
          "look it up online", "latest news", "current weather", "right now", "PROVE", "step-by-step",
          "solve for x", "how many apples if", "riddle", "write a function", "Fix this bug",
          "stack trace", "segfault", "\u017fummarize", "\u0130", "\u212aey points", "\n", " ", ".", "?",
          "the", "what", "circuit breaker", "reasons", "stepped", "translator", "sources:"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.lists(st.sampled_from(PIECES), max_size=4))
def test_skipping_scans_by_their_words_never_changes_the_rule(ask: list[str], system: list[str]) -> None:
    ask_text, system_text = " ".join(ask), " ".join(system)
    messages = user(ask_text, system=system_text or None)
    assert infer_task(messages).rule == by_regex_alone(ask_text, system_text)
