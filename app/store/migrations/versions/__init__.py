"""The migration history, oldest first."""
