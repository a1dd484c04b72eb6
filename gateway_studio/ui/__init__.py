"""The desktop app (Qt through ``qtpy``). It edits the engine's graph through undo commands
on a ``Document`` and listens to the evaluator through a worker; it never computes pixels
itself. Nothing here imports torch or transformers at module level: the window opens first.
"""
