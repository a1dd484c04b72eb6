"""Gateway Studio: node-based visual patching for depth work."""

__version__ = "0.1.0"
