"""Almanac's version: a leaf module, so any layer may import it without the app factory."""

__version__ = "0.1.0"
