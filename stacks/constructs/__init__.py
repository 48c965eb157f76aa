"""Reusable constructs; each takes a frozen-dataclass props object documenting its defaults."""
