"""The engine: validation, scheduling, call state, retries, restart recovery."""
