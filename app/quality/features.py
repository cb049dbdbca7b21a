"""Prompt features for the difficulty estimator, shared by training and inference so both agree."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Container, Mapping
from dataclasses import dataclass
from itertools import pairwise

_TOKEN = re.compile(r"[a-z]+|\d[\d.,]*|[^\sa-z\d]")
_OPTION = re.compile(r"^[A-D]\. ?(.*)$", re.MULTILINE)
_SENTENCE_END = re.compile(r"[.?!](?:\s|$)")
_NUMERIC_OPTION = re.compile(r"^[\s$\-+\d.,/%()^*x\u00d7]*$")
_MATH_CHARS = "=+*/^<>\\"
_MATH_WORDS = frozenset({"sqrt", "log", "sin", "cos", "integral", "derivative"})
_FRACTION_WORDS = frozenset(
    {"half", "halves", "third", "thirds", "quarter", "quarters", "fourth", "fifth", "twice", "double",
     "triple", "thrice"}
)
_NUMBER_WORDS = frozenset(
    {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
     "fifteen", "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "million", "dozen", "dozens"}
)
_TIME_WORDS = frozenset(
    {"second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks", "month",
     "months", "year", "years"}
)
# Longer tokens only add noise to the n-gram vocabulary (hashes, URLs, chemical names).
_MAX_TOKEN = 20
_MAX_DIGITS = 6

DENSE_NAMES = (
    "log_chars", "log_words", "log_numbers", "log_distinct_numbers", "log_sentences", "questions",
    "multiple_choice", "log_option_chars", "numeric_options", "math_symbols", "percent", "dollar",
    "fractions", "time_units", "decimals", "log_max_number", "log_number_words", "log_commas",
)


_MULTIPLE_CHOICE = DENSE_NAMES.index("multiple_choice")
# Prompt domains with a model each: lettered answer options, or an open (word) problem.
DOMAINS = ("choice", "open")


@dataclass(frozen=True, slots=True)
class PromptFeatures:
    """N-gram counts and structural features (in DENSE_NAMES order) of one prompt."""

    terms: Counter[str]
    dense: list[float]


def _number_value(text: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def extract(prompt: str) -> PromptFeatures:
    """Tokenise once (lower-case words, symbols, numbers as '#' + digit count) and derive every feature."""
    lower = prompt.lower()
    toks: list[str] = []
    numbers: list[str] = []
    for raw in _TOKEN.findall(lower):
        if raw[0].isdigit():
            number = raw.rstrip(".,")
            numbers.append(number)
            toks.append(f"#{min(len(number), _MAX_DIGITS)}")
        elif len(raw) <= _MAX_TOKEN:
            toks.append(raw)
    counts = Counter(toks)
    bigrams = Counter(map(" ".join, pairwise(toks)))

    options = _OPTION.findall(prompt)
    option_chars = sum(len(o) for o in options) / len(options) if options else 0.0
    numeric = sum(1 for o in options if _NUMERIC_OPTION.match(o)) / len(options) if options else 0.0
    biggest = max((_number_value(n) for n in numbers), default=0.0)
    math_symbols = sum(map(prompt.count, _MATH_CHARS)) + sum(counts[w] for w in _MATH_WORDS)
    dense = [
        math.log1p(len(prompt)),
        math.log1p(len(prompt.split())),
        math.log1p(len(numbers)),
        math.log1p(len(set(numbers))),
        math.log1p(len(_SENTENCE_END.findall(prompt))),
        float(prompt.count("?")),
        1.0 if len(options) >= 2 else 0.0,
        math.log1p(option_chars),
        numeric,
        math.log1p(math_symbols),
        float("%" in prompt or counts["percent"] > 0),
        float("$" in prompt),
        math.log1p(sum(counts[w] for w in _FRACTION_WORDS)),
        math.log1p(sum(counts[w] for w in _TIME_WORDS)),
        float(any("." in n for n in numbers)),
        math.log1p(min(biggest, 1e12)),
        math.log1p(sum(counts[w] for w in _NUMBER_WORDS)),
        math.log1p(prompt.count(",")),
    ]
    counts.update(bigrams)
    return PromptFeatures(counts, dense)


def domain_of(found: PromptFeatures) -> str:
    """'choice' for a question with lettered answer options (MMLU-like), else 'open' (GSM8K-like)."""
    return DOMAINS[0] if found.dense[_MULTIPLE_CHOICE] else DOMAINS[1]


def term_vector(terms: Mapping[str, int], vocabulary: Container[str]) -> dict[str, float]:
    """Sub-linear term frequencies (1 + log count) over the vocabulary, scaled to unit length."""
    vector = {t: 1.0 + math.log(c) for t, c in terms.items() if t in vocabulary}
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / norm for t, v in vector.items()} if norm else vector
