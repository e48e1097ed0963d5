"""Integrations with other libraries (imported lazily: each needs its library installed)."""
