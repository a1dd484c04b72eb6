"""The engine's error types. Every message names the problem and where it is."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the engine raises on purpose (shown to users without traceback)."""


class GatewayWarning(UserWarning):
    """Warnings of our own; the test suite turns them into errors."""


class SlotError(GatewayError, ValueError):
    """A slot value breaks its contract (dtype, shape, range, finiteness)."""


class PatchError(GatewayError):
    """A patch file (or patch dict) is malformed; the message starts with its location."""

    def __init__(self, message: str, location: str = "") -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class GraphError(GatewayError):
    """An edit that would break the graph: unknown node, incompatible slots, a cycle."""


class ImageReadError(GatewayError):
    """An image file could not be read (missing, truncated, corrupt, too large)."""


class ModelMissingError(GatewayError):
    """Model weights are not available locally; says where we looked and how to get them."""


class Cancelled(GatewayError):
    """An evaluation was cancelled between nodes."""
