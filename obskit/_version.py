"""obskit's version, in a module of its own so that any module can read it without importing
the whole package (``obskit/__init__.py`` imports every layer)."""

__version__ = "0.1.0"
