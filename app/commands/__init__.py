"""Subcommands of `llm-router`, one module each; `cli.py` lists them in COMMANDS."""
