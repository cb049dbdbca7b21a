"""Execution with fallback: the chain loop, cost, quality, and the library's `execute_with_fallback`."""

from app.execution.library import execute_with_fallback
from app.execution.result import ExecutionResult

__all__ = ["ExecutionResult", "execute_with_fallback"]
