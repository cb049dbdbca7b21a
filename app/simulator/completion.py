"""Deterministic canned completions and the token rule (ceil(chars / 4)) tests can predict."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
WORDS_PER_CHUNK = 3
_ECHO_CHARS = 160
_WORD = re.compile(r"\S+\s*")


@dataclass(frozen=True)
class Chat:
    """A request reduced to what the simulator answers from, whatever its wire format."""

    model: str
    texts: tuple[str, ...]
    max_tokens: int | None
    stream: bool
    include_usage: bool = False
    json_array: bool = False


@dataclass(frozen=True)
class Completion:
    """The answer text, its usage, why it stopped, and the text cut into stream chunks."""

    text: str
    input_tokens: int
    output_tokens: int
    truncated: bool
    chunks: tuple[str, ...]


def count_tokens(text: str) -> int:
    """The simulator's tokenizer: one token per four characters, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


def prompt_tokens(texts: tuple[str, ...]) -> int:
    """Input tokens of a prompt: the sum over its texts (system, then each message in order)."""
    return sum(count_tokens(t) for t in texts)


def compose(provider: str, model: str, texts: tuple[str, ...]) -> str:
    """The full answer before any max_tokens cut: a digest of the prompt, an echo and some structure."""
    prompt = "\n".join(texts)
    digest = hashlib.sha256(f"{provider}\n{model}\n{prompt}".encode()).hexdigest()[:12]
    echo = " ".join((texts[-1] if texts else "").split())[:_ECHO_CHARS]
    lines = [
        f"Simulated reply {digest} from {provider} ({model}).",
        "",
        f'You wrote: "{echo}"',
        "",
        "1. The request reached the simulator and was understood.",
        "2. The same prompt always gets this same answer.",
        "3. Tokens are counted as characters divided by four, rounded up.",
    ]
    lowered = prompt.lower()
    if "code" in lowered or "```" in prompt:
        lines += ["", "```python", "print('hello from the simulator')", "```"]
    if "cite" in lowered or "source" in lowered:
        lines += ["", "Source: [1] https://example.org/simulated-reference"]
    return "\n".join(lines)


def split_chunks(text: str) -> tuple[str, ...]:
    """The stream pieces of a text (a few words each); joined they give the text back."""
    words = _WORD.findall(text)
    return tuple("".join(words[i : i + WORDS_PER_CHUNK]) for i in range(0, len(words), WORDS_PER_CHUNK))


def complete(provider: str, chat: Chat) -> Completion:
    """The deterministic completion of a chat, cut at max_tokens when it is smaller."""
    text = compose(provider, chat.model, chat.texts)
    truncated = chat.max_tokens is not None and count_tokens(text) > chat.max_tokens
    if truncated and chat.max_tokens is not None:
        text = text[: chat.max_tokens * CHARS_PER_TOKEN]
    return Completion(
        text=text,
        input_tokens=prompt_tokens(chat.texts),
        output_tokens=count_tokens(text),
        truncated=truncated,
        chunks=split_chunks(text),
    )
