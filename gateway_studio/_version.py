"""The version, in a module of its own so the engine can name it without importing the
package's lazy API (``gateway_studio/__init__.py``)."""

__version__ = "0.1.0"
