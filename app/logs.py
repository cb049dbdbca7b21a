"""Logging: one JSON object per line, with the request id, and secrets scrubbed before output.

Secrets should never reach a log call in the first place (tests grep for canary keys); the
scrubbing filter is the second line: it masks bearer tokens, our API keys, common provider key
shapes and every secret value registered at start-up (provider keys, the master key).
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.config
import re
from contextvars import ContextVar
from typing import Any

import orjson

request_id: ContextVar[str | None] = ContextVar("llm_router_request_id", default=None)

MASK = "[redacted]"
PATTERNS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"        # Authorization headers
    r"|llr_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}"          # our API keys
    r"|\b(sk|pk|rk)-[A-Za-z0-9_-]{16,}"              # OpenAI/Anthropic/DeepSeek shapes
    r"|\bAIza[0-9A-Za-z_-]{30,}"                     # Google API keys
    r"|\b(AKIA|ASIA)[0-9A-Z]{16}\b"                  # AWS access key ids
)
_secrets: set[str] = set()
MIN_SECRET_CHARS = 8


def register_secret(value: str | None) -> None:
    """Mask this exact value in every log line from now on (too short values are ignored)."""
    if value and len(value) >= MIN_SECRET_CHARS:
        _secrets.add(value)


def scrub(text: str) -> str:
    """The text with known secrets and key-shaped strings masked."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return PATTERNS.sub(lambda m: (m.group(1) or "") + MASK, text)


class ScrubSecrets(logging.Filter):
    """Masks secrets in the formatted message and the exception text of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class RequestId(logging.Filter):
    """Adds `request_id` (the X-Request-ID of the request being served) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "message", "request_id", "exc"} per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(self.formatException(record.exc_info))
        if record.exc_text:
            out["exc"] = record.exc_text
        return orjson.dumps(out).decode()


def config(level: str = "INFO", *, json: bool = True) -> dict[str, Any]:
    """A dictConfig for the service and uvicorn: JSON lines on stderr, scrubbed, with request ids."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"scrub": {"()": ScrubSecrets}, "request_id": {"()": RequestId}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        },
        "handlers": {"stderr": {
            "class": "logging.StreamHandler", "stream": "ext://sys.stderr",
            "formatter": "json" if json else "text", "filters": ["request_id", "scrub"],
        }},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": True, "level": "WARNING"},
        },
    }


def configure(level: str = "INFO", *, json: bool = True) -> None:
    """Install the configuration in this process."""
    logging.config.dictConfig(config(level, json=json))
