"""Utility nodes: reroute points, one per slot type.

A reroute is a dot on a wire the user places to steer it (the canvas draws it as a dot,
not a node box). It hands its input to its output unchanged. There is one type per slot
type (``util.reroute_depth``, ``util.reroute_image``…) so the output is typed as the
input is and a patch type-checks through it like through the wire it sits on; the
canvas picks the one matching the wire's source slot.
"""

from __future__ import annotations

from gateway_studio.engine import NodeSpec, node
from gateway_studio.engine.slots import SLOT_TYPES, Slot

#: Every reroute type id starts with this (the canvas draws these as dots).
REROUTE_PREFIX = "util.reroute_"


def reroute_type(slot_type_name: str) -> str:
    """The reroute node type for a wire carrying ``slot_type_name`` (e.g. ``Depth``)."""
    return REROUTE_PREFIX + slot_type_name.lower()


def _reroute(slot: type[Slot]) -> NodeSpec:
    def passthrough(value: Slot) -> Slot:
        return value

    passthrough.__annotations__ = {"value": slot, "return": slot}
    passthrough.__doc__ = (
        f"A reroute point on a {slot.type_name} wire: passes the {slot.type_name} "
        "through unchanged, to steer the wire."
    )
    passthrough.__module__ = __name__
    return node(
        reroute_type(slot.type_name),
        outputs={"value": slot},
        family="util",
        label=f"Reroute {slot.type_name}",
        aliases=("reroute", "dot", "waypoint", "wire point"),
    )(passthrough)


reroute_image = _reroute(SLOT_TYPES["Image"])
reroute_depth = _reroute(SLOT_TYPES["Depth"])
reroute_field = _reroute(SLOT_TYPES["Field"])
reroute_mask = _reroute(SLOT_TYPES["Mask"])
reroute_segments = _reroute(SLOT_TYPES["Segments"])
reroute_faces = _reroute(SLOT_TYPES["Faces"])
reroute_normals = _reroute(SLOT_TYPES["Normals"])
reroute_pointcloud = _reroute(SLOT_TYPES["PointCloud"])
reroute_files = _reroute(SLOT_TYPES["Files"])
