"""How fast the provider simulator answers, per wire format, so benchmarks know it is not their bottleneck.

Run: .venv/bin/python bench/bench_simulator.py [--concurrency 16] [--seconds 3]
The simulator runs in its own process (`llm-router simulator`); an aiohttp closed loop drives it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.simulator import SimulatorProcess
from bench.loadgen import drive

USER = [{"role": "user", "content": "Benchmark prompt: explain circuit breakers in two sentences."}]
CASES: list[tuple[str, str, str, dict[str, str], dict[str, Any]]] = [
    ("openai chat", "openai", "/chat/completions", {"Authorization": "Bearer k"},
     {"model": "gpt-4o", "messages": USER}),
    ("openai stream+usage", "openai", "/chat/completions", {"Authorization": "Bearer k"},
     {"model": "gpt-4o", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}),
    ("anthropic stream", "anthropic", "/v1/messages", {"x-api-key": "k", "anthropic-version": "2023-06-01"},
     {"model": "claude-haiku-4-5", "max_tokens": 500, "messages": USER, "stream": True}),
    ("gemini chat", "gemini", "/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": "k"},
     {"contents": [{"role": "user", "parts": [{"text": USER[0]["content"]}]}]}),
    ("cohere chat", "cohere", "/v2/chat", {"Authorization": "Bearer k"},
     {"model": "command-r-08-2024", "messages": USER}),
    ("bedrock converse-stream", "bedrock", "/model/amazon.nova-pro-v1:0/converse-stream",
     {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request"},
     {"messages": [{"role": "user", "content": [{"text": USER[0]["content"]}]}]}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with SimulatorProcess() as simulator:
        print(f"provider simulator, 1 process, concurrency {args.concurrency}, {args.seconds:.0f} s per case")
        print(f"{'case':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
        for name, provider, path, headers, body in CASES:
            url = simulator.base_url(provider) + path
            result = asyncio.run(drive(url, body, concurrency=args.concurrency,
                                         seconds=args.seconds, warmup_s=0.2, headers=headers))
            print(f"{name:<26}{result.rps:>9.0f}{result.pct(0.5):>9.1f}{result.pct(0.99):>9.1f}{result.errors:>8}")


if __name__ == "__main__":
    main()
