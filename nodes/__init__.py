"""Gateway Studio's built-in node library, one module per family.

Each module declares ``NodeSpec``s with ``gateway_studio.engine.node``; the registry
collects every spec it finds. Nodes depend on ``gateway_studio.engine`` only — never on
the UI — and import heavy libraries (torch, transformers, cv2) inside functions.
"""

#: Which modules define each family of type ids (the part before the dot), so the
#: registry imports only what a patch uses (``engine/registry.py``). A family missing
#: here, or a type its modules do not define, loads every module: this table speeds
#: loading up and never decides what exists (tests/engine/test_registry.py checks it).
FAMILIES: dict[str, tuple[str, ...]] = {
    "source": ("sources",),
    "depth": ("depth_files", "depth", "depth_fill", "depth_marigold"),
    "field": ("fields",),
    "modulate": ("modulation",),
    "geometry": ("geometry",),
    "segment": ("segmentation",),
    "faces": ("faces",),
    "generate": ("generate",),
    "output": ("output",),
    "util": ("util",),
}
