"""The OpenAI-compatible API: chat completions (streamed or not) and the model list, routed."""
