"""The official `openai` SDK against the service in front of the simulator: completions, streams,
hints in extra_body and headers, pinned models, errors the SDK raises, and the model list."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from app.config.catalog import Catalog
from app.simulator import count_tokens
from tests.openai_compat.conftest import Running

ASK = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Capital of France?"}]


def exact_cost(catalog: Catalog, provider: str, model: str, tokens_in: int, tokens_out: int) -> Decimal:
    spec = next(m for m in catalog.providers[provider].models if m.name == model)
    return (tokens_in * spec.input_price + tokens_out * spec.output_price) / Decimal(10**6)


def streamed(stream: Any) -> tuple[str, list[Any]]:
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


def test_plain_completion_names_who_answered_and_is_recorded_at_exact_cost(
    svc: Running, catalog: Catalog
) -> None:
    raw = svc.client().chat.completions.with_raw_response.create(model="auto", messages=ASK)
    completion = raw.parse()
    provider, model = raw.headers["x-router-provider"], raw.headers["x-router-model"]
    decision_id = raw.headers["x-router-decision-id"]
    assert completion.model == f"{provider}/{model}" and completion.id == f"chatcmpl-{decision_id}"
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    content = completion.choices[0].message.content or ""
    assert f"from {provider} ({model})" in content  # the simulator says who it is
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == sum(count_tokens(m["content"]) for m in ASK)
    assert completion.usage.completion_tokens == count_tokens(content)
    assert (raw.headers["x-router-task"], raw.headers["x-router-task-source"]) == ("chat", "inferred:default")
    assert raw.headers["x-router-budget"] == "medium"  # no tenant, no hint: the default tier
    decision, rows = svc.stored(decision_id, attempts=1)
    assert decision.status == "succeeded"
    assert [(r.provider, r.outcome) for r in rows] == [(provider, "success")]
    row = rows[0]
    assert (row.input_tokens, row.output_tokens) == (completion.usage.prompt_tokens,
                                                     completion.usage.completion_tokens)
    assert row.cost_usd == exact_cost(catalog, provider, model, row.input_tokens, row.output_tokens) > 0
    assert row.cost_estimated is False


def test_a_stream_is_the_same_answer_in_openai_chunks_with_usage_last(svc: Running, catalog: Catalog) -> None:
    client = svc.client()
    whole = client.chat.completions.create(model="auto", messages=ASK)
    with client.chat.completions.with_streaming_response.create(
        model="auto", messages=ASK, stream=True, stream_options={"include_usage": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        decision_id = response.headers["x-router-decision-id"]
        text, chunks = streamed(response.parse())
    assert text == whole.choices[0].message.content and len(chunks) > 4
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {c.id for c in chunks} == {f"chatcmpl-{decision_id}"}
    assert {c.model for c in chunks} == {whole.model}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None and all(c.usage is None for c in chunks[:-1])
    assert whole.usage is not None and usage.completion_tokens == whole.usage.completion_tokens
    provider, model = whole.model.split("/", 1)
    _, rows = svc.stored(decision_id, attempts=1)
    assert [(r.provider, r.outcome, r.error_class) for r in rows] == [(provider, "success", None)]
    assert (rows[0].input_tokens, rows[0].output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert rows[0].cost_usd == exact_cost(catalog, provider, model, usage.prompt_tokens,
                                          usage.completion_tokens)
    assert rows[0].cost_estimated is False


def test_a_stream_without_include_usage_has_no_usage_chunk(svc: Running) -> None:
    text, chunks = streamed(svc.client().chat.completions.create(model="auto", messages=ASK, stream=True))
    assert text and all(c.usage is None and c.choices for c in chunks)


@pytest.mark.parametrize(("hints", "task", "budget", "region"), [
    ({"task_type": "code", "budget": "high", "region": "eu"}, "code", "high", "eu"),
    ({"task_type": "translation", "budget": "low", "requires_compliance": True},
     "translation", "low", "global"),
])
def test_auto_routes_with_hints_in_extra_body(svc: Running, hints: dict[str, Any], task: str, budget: str,
                                              region: str) -> None:
    raw = svc.client().chat.completions.with_raw_response.create(
        model="auto", messages=ASK, extra_body=hints)
    expected = svc.chain(**{"region": "global", **hints})
    assert (raw.headers["x-router-task"], raw.headers["x-router-budget"]) == (task, budget)
    assert raw.headers["x-router-task-source"] == "body"
    assert raw.headers["x-router-provider"] == expected[0]
    assert raw.parse().model.startswith(expected[0] + "/")


def test_auto_routes_with_hints_in_headers_and_the_body_wins_over_them(svc: Running) -> None:
    headers = {"X-Router-Task": "summarization", "X-Router-Budget": "low", "X-Router-Region": "eu"}
    raw = svc.client().chat.completions.with_raw_response.create(
        model="auto", messages=ASK, extra_headers=headers)
    assert (raw.headers["x-router-task"], raw.headers["x-router-task-source"]) == ("summarization", "header")
    expected = svc.chain(task_type="summarization", budget="low", region="eu")
    assert raw.headers["x-router-provider"] == expected[0]
    both = svc.client().chat.completions.with_raw_response.create(
        model="auto", messages=ASK, extra_headers=headers, extra_body={"task_type": "code"})
    assert (both.headers["x-router-task"], both.headers["x-router-budget"]) == ("code", "low")


def test_the_task_is_inferred_from_the_messages(svc: Running) -> None:
    client = svc.client()
    image = [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]
    asks = {
        "vision": image,
        "code": [{"role": "user", "content": "Why does this fail?\n```python\nprint(1/0)\n```"}],
        "translation": [{"role": "user", "content": "Translate 'good morning' into German."}],
    }
    for task, messages in asks.items():
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=messages)
        assert raw.headers["x-router-task"] == task, task
        assert raw.headers["x-router-task-source"].startswith("inferred:")


def test_a_pinned_model_answers_and_leads_the_stored_chain(svc: Running) -> None:
    raw = svc.client().chat.completions.with_raw_response.create(
        model="anthropic/claude-haiku-4-5", messages=ASK, extra_body={"budget": "free"})
    completion = raw.parse()
    assert completion.model == "anthropic/claude-haiku-4-5"
    answered = (raw.headers["x-router-provider"], raw.headers["x-router-model"])
    assert answered == ("anthropic", "claude-haiku-4-5")
    decision, _ = svc.stored(raw.headers["x-router-decision-id"], attempts=1)
    chain = [(c["provider"], c["model"]) for c in decision.chain]
    assert chain[0] == ("anthropic", "claude-haiku-4-5")
    # The fallbacks behind it keep the caller's budget: only free-tier models.
    assert chain[1:] and all(c["blended_price"] == 0 for c in decision.chain[1:])


def test_a_bare_model_name_pins_that_model(svc: Running) -> None:
    completion = svc.client().chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert completion.model == "openai/gpt-4o-mini"


def test_models_lists_auto_and_every_catalog_model(svc: Running, catalog: Catalog) -> None:
    ids = [m.id for m in svc.client().models.list()]
    expected = {f"{p}/{m.name}" for p, spec in catalog.providers.items() for m in spec.models}
    assert ids[0] == "auto" and set(ids[1:]) == expected and len(ids) == len(expected) + 1


@pytest.mark.parametrize(("kwargs", "param", "message"), [
    ({"n": 2}, "n", "n=2 is not supported"),
    ({"extra_body": {"budget": "cheap"}}, "budget", "Input should be 'free', 'low'"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools",
     "'tools' is not supported"),
    ({"extra_body": {"frobnicate": 1}}, "frobnicate", "Unrecognized request argument supplied: frobnicate"),
    ({"extra_headers": {"X-Router-Budget": "lavish"}}, "x-router-budget", "'lavish' is not one of free"),
    ({"max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
])
def test_bad_requests_raise_bad_request_error_with_our_message(
    svc: Running, kwargs: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        svc.client().chat.completions.create(model="auto", messages=ASK, **kwargs)
    assert caught.value.status_code == 400 and message in caught.value.message
    assert caught.value.param == param and caught.value.type == "invalid_request_error"


def test_an_unknown_model_raises_not_found_with_model_not_found(svc: Running) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        svc.client().chat.completions.create(model="acme/gpt-9", messages=ASK)
    assert caught.value.code == "model_not_found" and "acme/gpt-9" in caught.value.message


def test_constraints_nothing_meets_raise_bad_request_naming_the_reasons(svc: Running) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        svc.client().chat.completions.create(
            model="auto", messages=ASK, extra_body={"task_type": "vision", "budget": "free", "region": "eu"})
    assert caught.value.code == "no_eligible_provider"
    body = caught.value.body
    assert isinstance(body, dict) and body["details"]["excluded"]


def test_a_pinned_model_outside_a_hard_constraint_is_refused_with_the_reason(svc: Running) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        svc.client().chat.completions.create(
            model="perplexity/sonar", messages=ASK, extra_body={"region": "eu"})
    assert caught.value.param == "model" and "region" in caught.value.message


def test_malformed_json_is_a_400_in_openai_shape(svc: Running) -> None:
    response = httpx.post(svc.url + "/v1/chat/completions", content=b"{not json",
                          headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"


@pytest.mark.parametrize("model", [
    "anthropic/claude-haiku-4-5", "gemini/gemini-2.5-flash", "vertex_ai/gemini-2.5-flash",
    "cohere/command-r-08-2024", "bedrock/nova-pro", "azure_openai/gpt-4o-mini", "deepseek/deepseek-chat",
])
def test_every_wire_format_streams_the_same_answer_as_it_completes(
    svc: Running, catalog: Catalog, model: str
) -> None:
    client = svc.client()
    whole = client.chat.completions.create(model=model, messages=ASK)
    with client.chat.completions.with_streaming_response.create(
        model=model, messages=ASK, stream=True, stream_options={"include_usage": True},
    ) as response:
        decision_id = response.headers["x-router-decision-id"]
        text, chunks = streamed(response.parse())
    assert whole.model == model and {c.model for c in chunks} == {model}
    assert text == whole.choices[0].message.content
    usage = chunks[-1].usage
    assert usage is not None and whole.usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (whole.usage.prompt_tokens,
                                                              whole.usage.completion_tokens)
    _, rows = svc.stored(decision_id, attempts=1)
    provider, name = model.split("/", 1)
    assert [(r.provider, r.model, r.outcome) for r in rows] == [(provider, name, "success")]
    assert rows[0].cost_estimated is False
    assert rows[0].cost_usd == exact_cost(catalog, provider, name, usage.prompt_tokens,
                                          usage.completion_tokens)
