"""Smart LLM Router: routes every LLM request to the best provider, with fallback and records."""

__version__ = "0.1.0"
