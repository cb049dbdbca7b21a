"""OpenAI-format messages (what clients send) to the provider-neutral ChatRequest."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from app.errors import InputInvalid
from app.providers.base import ChatRequest, ImagePart, Part, TextPart, Turn

DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>.+)$", re.DOTALL)


def chat_request(
    messages: Iterable[Mapping[str, Any]] | None = None,
    *,
    prompt: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> ChatRequest:
    """System and developer messages become the system text; tool results become user text;
    consecutive turns of one role are merged, since Bedrock and Gemini want them alternating."""
    if prompt is not None:
        return ChatRequest(turns=(Turn("user", (TextPart(prompt),)),),
                           max_tokens=max_tokens, temperature=temperature)
    system: list[str] = []
    turns: list[Turn] = []
    for i, message in enumerate(messages or ()):
        role = message.get("role")
        parts = _parts(message.get("content"), where=f"messages[{i}].content")
        if role in ("system", "developer"):
            system.extend(p.text for p in parts if isinstance(p, TextPart))
            continue
        if role == "tool":
            parts = tuple(TextPart(f"[tool result] {p.text}") for p in parts if isinstance(p, TextPart))
        wire_role: Literal["user", "assistant"] = "assistant" if role == "assistant" else "user"
        if not parts:
            continue
        if turns and turns[-1].role == wire_role:
            turns[-1] = Turn(wire_role, turns[-1].parts + parts)
        else:
            turns.append(Turn(wire_role, parts))
    if not turns:
        raise InputInvalid("give at least one user message (or a `prompt`)",
                           details={"fields": [{"field": "messages", "message": "no user content"}]})
    return ChatRequest(turns=tuple(turns), system="\n\n".join(system) or None,
                       max_tokens=max_tokens, temperature=temperature)


def _parts(content: Any, *, where: str) -> tuple[Part, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (TextPart(content),) if content else ()
    out: list[Part] = []
    for j, item in enumerate(content):
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind == "text":
            out.append(TextPart(str(item.get("text", ""))))
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if not isinstance(url, str) or not url:
                raise InputInvalid(f"{where}[{j}].image_url.url is required",
                                   details={"fields": [{"field": f"{where}[{j}].image_url.url",
                                                        "message": "required"}]})
            match = DATA_URL.match(url)
            out.append(ImagePart(url, match["type"], match["data"]) if match else ImagePart(url))
        else:
            raise InputInvalid(f"{where}[{j}].type must be text or image_url",
                               details={"fields": [{"field": f"{where}[{j}].type",
                                                    "message": "unsupported content part",
                                                    "allowed": ["text", "image_url"]}]})
    return tuple(out)
