"""Sources: where pixels enter a patch."""

from __future__ import annotations

from typing import Annotated

from gateway_studio.engine import Context, FilePath, GatewayError, Help, Image, node
from gateway_studio.engine.imageio import read_image


@node("source.image", outputs={"image": Image}, proxy=False)
def image(
    *,
    path: Annotated[FilePath, Help("Photo to read (PNG, JPEG, TIFF, WebP; 8 or 16 bit)")] = "",
    ctx: Context,
) -> Image:
    """Read a photo from disk (EXIF orientation applied, 16-bit kept)."""
    if not path:
        raise GatewayError("no image chosen: set the 'path' param")
    return read_image(ctx.resolve_path(path))
