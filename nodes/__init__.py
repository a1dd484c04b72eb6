"""Gateway Studio's built-in node library, one module per family.

Each module declares ``NodeSpec``s with ``gateway_studio.engine.node``; the registry
collects every spec it finds. Nodes depend on ``gateway_studio.engine`` only — never on
the UI — and import heavy libraries (torch, transformers, cv2) inside functions.
"""
