"""The task a chat asks for when the caller gave no hint: a few ordered, deterministic rules.

Rules look at the last user message (what is being asked now) and the system text (the standing
instruction), first match wins: images -> vision; code -> code; translation; summarization;
grounded answers over supplied documents -> rag; web lookups -> web_search; proofs and multi-step
problems -> reasoning; a long pasted document -> summarization; otherwise chat.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.config.enums import TaskType
from app.routing.schemas import ChatMessage

# A user message this long (characters) is a document to digest, not a question.
LONG_DOCUMENT_CHARS = 12_000

CODE_FENCE = re.compile(r"```")
CODE_LINES = re.compile(
    r"^\s*(def |class \w+[:(]|import \w|from \w+ import|#include\s*<|function \w+\s*\(|"
    r"(public|private|static) \w+.*\(|SELECT .+ FROM |fn \w+\s*\(|package \w+;?$)",
    re.MULTILINE | re.IGNORECASE,
)
CODE_ASK = re.compile(
    r"\b(write|implement|fix|debug|refactor|optimi[sz]e|review|explain)\b[^.?!\n]{0,40}"
    r"\b(code|function|method|class|script|program|regex|sql query|unit tests?|bug)\b"
    r"|\b(stack ?trace|traceback|compile error|syntax error|segfault)\b",
    re.IGNORECASE,
)
TRANSLATE = re.compile(
    r"\btranslat(e|ion|ing)\b|\b(in|into|to) (english|french|german|spanish|italian|portuguese|"
    r"dutch|polish|russian|ukrainian|chinese|japanese|korean|arabic|hindi|turkish|swedish)\b[.?!:]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
SUMMARIZE = re.compile(
    r"\b(summari[sz]e|summary|summarization|tl;?dr|key points|condense|recap|abstract of)\b",
    re.IGNORECASE,
)
RAG = re.compile(
    r"\b(based (only )?on|using|according to|from) (the |this |these )?(following|provided|given|above|"
    r"attached|retrieved) (context|documents?|passages?|sources?|excerpts?|snippets?)\b"
    r"|^\s*(context|documents?|sources?)\s*:\s*$",
    re.IGNORECASE | re.MULTILINE,
)
WEB = re.compile(
    r"\b(search (the )?(web|internet|online)|look (it |this )?up online|latest news|"
    r"news (today|this week)|current (price|weather|events)|as of today|right now)\b",
    re.IGNORECASE,
)
REASON = re.compile(
    r"\b(prove|proof|step[- ]by[- ]step|derive|solve (for|this|the)|reason (through|about)|"
    r"how many .+ if|what is the probability|logic puzzle|riddle)\b",
    re.IGNORECASE,
)
# Words (lowercase) one of which every match of a rule contains: a text holding none of a rule's
# words cannot match it, so its scan is skipped. The usual short question then costs ~4 us
# instead of ~20, a 2,000-character prompt ~90 us instead of ~700 (case-insensitive scans with
# no literal prefix are slow in `re`). Letters that case folding matches to an ASCII one but
# str.lower() leaves alone (U+0130, U+0131, U+017F) send the text to every scan.
ODD_CASE_FOLDS = ("\u0130", "\u0131", "\u017f")
LANGUAGES = ("english", "french", "german", "spanish", "italian", "portuguese", "dutch", "polish",
             "russian", "ukrainian", "chinese", "japanese", "korean", "arabic", "hindi", "turkish",
             "swedish")
CODE_ASK_WORDS = ("write", "implement", "fix", "debug", "refactor", "optimi", "review", "explain",
                  "stack", "traceback", "compile error", "syntax error", "segfault")
RULES: tuple[tuple[re.Pattern[str], tuple[str, ...], TaskType, str], ...] = (
    (TRANSLATE, ("translat", *LANGUAGES), TaskType.TRANSLATION, "translation"),
    (SUMMARIZE, ("summar", "tl;dr", "tldr", "key points", "condense", "recap", "abstract of"),
     TaskType.SUMMARIZATION, "summarize"),
    (RAG, ("following", "provided", "given", "above", "attached", "retrieved", "context", "document",
           "source"), TaskType.RAG, "documents"),
    (WEB, ("search ", "look ", "news", "current ", "as of today", "right now"), TaskType.WEB_SEARCH, "web"),
    (REASON, ("prove", "proof", "step", "derive", "solve ", "reason ", "how many ", "what is the probability",
              "logic puzzle", "riddle"), TaskType.REASONING, "reasoning"),
)


@dataclass(frozen=True, slots=True)
class Inference:
    """The inferred task and the rule that chose it (named in `x-router-task-source`)."""

    task: TaskType
    rule: str


def infer_task(messages: Sequence[ChatMessage]) -> Inference:
    """Apply the rules in order to the last user message and the system text."""
    if any(_has_image(m.content) for m in messages):
        return Inference(TaskType.VISION, "image")
    ask = next((_text(m.content) for m in reversed(messages) if m.role == "user"), "")
    system = "\n".join(_text(m.content) for m in messages if m.role in ("system", "developer"))
    both = f"{system}\n{ask}"
    lowered = None if any(ch in both for ch in ODD_CASE_FOLDS) else both.lower()
    if (CODE_FENCE.search(ask) or CODE_LINES.search(ask)
            or (may_match(lowered, CODE_ASK_WORDS) and CODE_ASK.search(both))):
        return Inference(TaskType.CODE, "code")
    for pattern, words, task, rule in RULES:
        if may_match(lowered, words) and pattern.search(both):
            return Inference(task, rule)
    if len(ask) >= LONG_DOCUMENT_CHARS:
        return Inference(TaskType.SUMMARIZATION, "long_document")
    return Inference(TaskType.CHAT, "default")


def may_match(lowered: str | None, words: tuple[str, ...]) -> bool:
    """False only when the lowercased text (None: not safely lowercased) holds none of `words`."""
    if lowered is None:
        return True
    for word in words:  # noqa: SIM110 - a plain loop: any() over a generator costs twice as much
        if word in lowered:
            return True
    return False


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")


def _has_image(content: str | list[dict[str, Any]] | None) -> bool:
    return isinstance(content, list) and any(p.get("type") in ("image_url", "input_image") for p in content)
