"""Token estimates for routing, from a prompt or OpenAI-format messages, without a tokenizer."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

MESSAGE_OVERHEAD_TOKENS = 4
IMAGE_TOKENS = 765


def estimate_text_tokens(text: str, chars_per_token: float = 4.0) -> int:
    """About one token per `chars_per_token` characters, rounded up."""
    return math.ceil(len(text) / chars_per_token) if text else 0


def estimate_message_tokens(
    messages: Iterable[Mapping[str, Any]], chars_per_token: float = 4.0
) -> int:
    """Tokens of a chat: text parts, a fixed cost per image and per message."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS
        content = message.get("content")
        if isinstance(content, str):
            total += estimate_text_tokens(content, chars_per_token)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, Mapping):
                    continue
                if part.get("type") == "text":
                    total += estimate_text_tokens(str(part.get("text", "")), chars_per_token)
                elif part.get("type") in {"image_url", "image", "input_image"}:
                    total += IMAGE_TOKENS
    return total
