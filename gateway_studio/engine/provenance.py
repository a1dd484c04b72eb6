"""Provenance: the patch that made a picture, carried inside the picture.

``output.export`` writes an *envelope* (JSON) into every PNG, JPEG, TIFF and OpenEXR it
writes::

    {"format": "gateway-studio.provenance", "version": 1, "gateway_studio": "0.1.0",
     "mode": "full", "written_by": "export",
     "patch": {...patch JSON, paths relative to the picture's folder...},
     "sources": [{"node": "photo", "param": "path", "path": "me.jpg", "fingerprint": "…"}],
     "models": [{"node": "depth", "type": "depth.estimate", "model": "…",
                 "identity": "…", "licence": "…"}]}

- PNG: an ``iTXt`` chunk, keyword ``gateway-studio``, zlib-compressed UTF-8 JSON.
- JPEG: an XMP packet (APP1) whose ``gs:Provenance`` holds base64(zlib(JSON)); an
  envelope too big for one segment goes into numbered COM segments instead.
- TIFF: the XMP tag (700) of the first image, in a copy of its IFD appended to the file.
- OpenEXR: a ``string`` header attribute ``gatewayStudio/provenance`` holding the UTF-8
  JSON as it is (Nuke shows it as metadata ``exr/gatewayStudio/provenance``). The EXR
  encoder writes it with the header (``exr_attributes``): offsets follow the header, so
  it cannot be added to a finished file the way the others are.

The writer's own target path is left out of the embedded patch (opening the picture
sets it to the picture itself), so rendering the picture's patch again to another name
in the same folder gives the same bytes. ``minimal`` leaves out every source path (the
content keys stay, so a re-render can say which file is missing).

Reading is data-only and bounded: chunks, segments and EXR header attributes are walked
without decoding any pixels, XMP is matched by a regular expression (no XML parser, so no
entities), the inflated JSON (and an EXR's attribute) is capped at the patch size limit,
and the patch inside is validated by ``patch_from_dict`` exactly as a patch file is.
Nothing in it is executed.
"""

from __future__ import annotations

import base64
import json
import mmap
import os
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

from .errors import GatewayError, PatchError
from .graph import PatchGraph
from .node import Context
from .paths import PathRefused, open_regular, resolve
from .registry import Registry

FORMAT = "gateway-studio.provenance"
VERSION = 1
KEYWORD = b"gateway-studio"
Mode = Literal["full", "minimal", "none"]
MODES: tuple[str, ...] = ("full", "minimal", "none")

#: Largest envelope read back (the patch size limit of ``patch.py``).
MAX_ENVELOPE_BYTES = 64 << 20
#: Bytes of a picture walked looking for the envelope's chunk or segment.
_XMP_NS = "https://gateway-studio.org/ns/provenance/1.0/"
_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_COM_PREFIX = b"gateway-studio-provenance "
_SEGMENT_MAX = 65533 - 64
_XMP_RE = re.compile(rb"<gs:Provenance>([A-Za-z0-9+/=\s]+)</gs:Provenance>")
#: The OpenEXR header attribute (type ``string``) that carries the envelope.
EXR_ATTRIBUTE = "gatewayStudio/provenance"
_EXR_MAGIC = b"\x76\x2f\x31\x01"
#: Longest attribute name or type name in an OpenEXR header (long-name files: 255).
_EXR_NAME_MAX = 256


# -- building ------------------------------------------------------------------------------
def rebased_params(
    data: dict[str, Any], registry: Registry, old_base: Path | None, new_base: Path
) -> dict[str, Any]:
    """A copy of patch JSON ``data`` whose path params are relative to ``new_base``
    (resolved against ``old_base`` first; a path on another drive stays absolute)."""
    out: dict[str, Any] = json.loads(json.dumps(data))
    for entry in out["nodes"]:
        spec = registry.get(entry["type"])
        for p in spec.params:
            value = entry["params"].get(p.name)
            if p.kind != "path" or not value:
                continue
            absolute = resolve(str(value), old_base)
            try:
                entry["params"][p.name] = Path(os.path.relpath(absolute, new_base)).as_posix()
            except ValueError:  # another drive (Windows)
                entry["params"][p.name] = str(absolute)
    return out


def patch_digest_data(graph: PatchGraph) -> dict[str, Any]:
    """The patch JSON of ``graph`` (what an envelope embeds, before rebasing)."""
    from .patch import patch_to_dict

    return patch_to_dict(graph)


def build(
    graph: PatchGraph,
    writer: str,
    target: Path,
    mode: Mode,
    fingerprint: Callable[[Path], str],
) -> dict[str, Any]:
    """The envelope for the picture ``target`` written by node ``writer``."""
    from gateway_studio._version import __version__

    registry = graph.registry
    base = graph.base_dir
    patch = rebased_params(patch_digest_data(graph), registry, base, target.parent)
    sources: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    for entry in patch["nodes"]:
        spec = registry.get(entry["type"])
        inst = graph.node(entry["id"])
        for p in spec.params:
            if p.kind != "path":
                continue
            if entry["id"] == writer and p.save:
                entry["params"].pop(p.name, None)  # the picture itself: set on open
            elif not p.save and entry["params"].get(p.name):
                source: dict[str, Any] = {"node": entry["id"], "param": p.name}
                if mode == "full":
                    source["path"] = entry["params"][p.name]
                else:
                    entry["params"].pop(p.name)
                source["fingerprint"] = _fingerprint_or_problem(
                    fingerprint, resolve(str(inst.params[p.name]), base)
                )
                sources.append(source)
        if spec.identity is not None:
            models.append(_model_entry(entry, spec.identity, inst.params, base))
    return {
        "format": FORMAT,
        "version": VERSION,
        "gateway_studio": __version__,
        "mode": mode,
        "written_by": writer,
        "patch": patch,
        "sources": sources,
        "models": models,
    }


def _fingerprint_or_problem(fingerprint: Callable[[Path], str], path: Path) -> str:
    try:
        return fingerprint(path)
    except GatewayError as exc:  # the node reading it has failed already; keep going
        return f"unreadable: {exc}"


def _model_entry(
    entry: dict[str, Any],
    identity: Callable[[dict[str, Any], Context], str],
    params: dict[str, Any],
    base: Path | None,
) -> dict[str, Any]:
    from . import models

    out: dict[str, Any] = {"node": entry["id"], "type": entry["type"]}
    name = params.get("model")
    if isinstance(name, str) and name:
        out["model"] = name
        info = models.lookup(name)
        if info is not None:
            out["licence"] = info.licence
    try:
        out["identity"] = identity(params, Context(base_dir=base))
    except Exception as exc:  # weights absent: the node itself failed and says why
        out["identity"] = f"unresolved: {type(exc).__name__}: {exc}"
    return out


# -- embedding -----------------------------------------------------------------------------
def _text(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def exr_attributes(envelope: dict[str, Any] | None) -> dict[str, str]:
    """The OpenEXR header attributes that carry ``envelope`` (none for None)."""
    return {} if envelope is None else {EXR_ATTRIBUTE: _text(envelope)}


def embed(data: bytes, suffix: str, envelope: dict[str, Any]) -> bytes:
    """``data`` (a PNG, JPEG or TIFF file's bytes) with ``envelope`` inside; other
    formats (``.npy``, ``.json``, ``.ply``) are returned unchanged. An ``.exr`` is
    refused: its encoder writes the envelope into the header (``exr_attributes``)."""
    text = _text(envelope).encode("utf-8")
    suffix = suffix.lower()
    if suffix == ".exr":
        raise GatewayError("an OpenEXR file carries provenance in its header: use exr_attributes")
    if suffix == ".png":
        return _png_embed(data, text)
    if suffix in (".jpg", ".jpeg"):
        return _jpeg_embed(data, text)
    if suffix in (".tif", ".tiff"):
        return _tiff_embed(data, _xmp_packet(text))
    return data


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_embed(data: bytes, text: bytes) -> bytes:
    end = data.rfind(b"IEND")
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or end < 12:
        raise GatewayError("cannot add provenance: not a PNG stream")
    body = KEYWORD + b"\x00\x01\x00\x00\x00" + zlib.compress(text, 9)
    start = end - 4  # the IEND chunk's length field
    return data[:start] + _png_chunk(b"iTXt", body) + data[start:]


def _xmp_packet(text: bytes) -> bytes:
    payload = base64.b64encode(zlib.compress(text, 9))
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:gs="' + _XMP_NS.encode() + b'">'
        b"<gs:Provenance>" + payload + b"</gs:Provenance>"
        b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


def _jpeg_embed(data: bytes, text: bytes) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise GatewayError("cannot add provenance: not a JPEG stream")
    packet = _xmp_packet(text)
    if len(packet) + len(_XMP_HEADER) <= _SEGMENT_MAX:
        body = _XMP_HEADER + packet
        segments = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    else:  # COM segments "gateway-studio-provenance i/n " + base64(zlib) pieces
        payload = base64.b64encode(zlib.compress(text, 9))
        pieces = [payload[i : i + 60000] for i in range(0, len(payload), 60000)]
        segments = b""
        for i, piece in enumerate(pieces):
            body = _COM_PREFIX + f"{i + 1}/{len(pieces)} ".encode() + piece
            segments += b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body
    return data[:2] + segments + data[2:]


def _tiff_embed(data: bytes, packet: bytes) -> bytes:
    """Append a copy of IFD0 with the XMP tag (700) and point the header at it; the old
    IFD's out-of-line values stay where they are (still referenced)."""
    order = _tiff_order(data)
    if order is None:
        raise GatewayError("cannot add provenance: not a classic TIFF stream")
    (ifd,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    entries = [data[ifd + 2 + 12 * i : ifd + 14 + 12 * i] for i in range(count)]
    next_ifd = data[ifd + 2 + 12 * count : ifd + 6 + 12 * count]
    out = bytearray(data)
    if len(out) % 2:
        out += b"\x00"
    packet_at = len(out)
    out += packet
    if len(out) % 2:
        out += b"\x00"
    entries = [e for e in entries if struct.unpack(order + "H", e[:2])[0] != 700]
    entries.append(struct.pack(order + "HHII", 700, 1, len(packet), packet_at))
    entries.sort(key=lambda e: struct.unpack(order + "H", e[:2])[0])
    new_ifd = len(out)
    if new_ifd + 2 + 12 * len(entries) + 4 >= 1 << 32:
        raise GatewayError("cannot add provenance: the TIFF is too large for its offsets")
    out += struct.pack(order + "H", len(entries)) + b"".join(entries) + next_ifd
    out[4:8] = struct.pack(order + "I", new_ifd)
    return bytes(out)


def _tiff_order(data: bytes) -> str | None:
    if data[:4] == b"II*\x00":
        return "<"
    if data[:4] == b"MM\x00*":
        return ">"
    return None


# -- reading -------------------------------------------------------------------------------
def _inflate(payload: bytes, where: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(payload, MAX_ENVELOPE_BYTES + 1)
    except zlib.error as exc:
        raise PatchError(f"the embedded patch is damaged ({exc})", where) from None
    if len(text) > MAX_ENVELOPE_BYTES or inflater.unconsumed_tail:
        raise PatchError(f"the embedded patch is larger than {MAX_ENVELOPE_BYTES >> 20} MB", where)
    return text


def _png_payload(data: bytes, where: str) -> bytes | None:
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        head = pos + 8
        if kind == b"iTXt" and data[head : head + len(KEYWORD) + 1] == KEYWORD + b"\x00":
            rest = data[head + len(KEYWORD) + 1 : head + length]
            compressed = rest[:1] == b"\x01"
            parts = rest[2:].split(b"\x00", 2)  # language, translated keyword, text
            if len(parts) < 3:
                raise PatchError("the embedded patch chunk is malformed", where)
            return _inflate(parts[2], where) if compressed else parts[2]
        if kind == b"IEND":
            break
        pos += 12 + length
    return None


def _b64_inflate(payload: bytes, where: str) -> bytes:
    try:
        raw = base64.b64decode(b"".join(payload.split()), validate=True)
    except ValueError as exc:
        raise PatchError(f"the embedded patch is damaged ({exc})", where) from None
    return _inflate(raw, where)


def _jpeg_payload(data: bytes, where: str) -> bytes | None:
    pos = 2
    pieces: list[bytes] = []
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length] if marker in (0xE1, 0xFE) else b""
        if marker == 0xE1 and body.startswith(_XMP_HEADER):
            found = _XMP_RE.search(body)
            if found:
                return _b64_inflate(found.group(1), where)
        if marker == 0xFE and body.startswith(_COM_PREFIX):
            pieces.append(body[len(_COM_PREFIX) :].split(b" ", 1)[-1])
        pos += 2 + length
    return _b64_inflate(b"".join(pieces), where) if pieces else None


def _tiff_payload(data: bytes, where: str) -> bytes | None:
    order = _tiff_order(data)
    if order is None or len(data) < 8:
        return None
    (ifd,) = struct.unpack(order + "I", data[4:8])
    if ifd + 2 > len(data):
        return None
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    for i in range(count):
        entry = data[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag, _kind, n, offset = struct.unpack(order + "HHII", entry)
        if tag == 700 and 4 < n <= 2 * MAX_ENVELOPE_BYTES:
            found = _XMP_RE.search(data[offset : offset + n])
            return _b64_inflate(found.group(1), where) if found else None
    return None


def _exr_payload(data: bytes, where: str) -> bytes | None:
    """The ``gatewayStudio/provenance`` string of an OpenEXR file's (first) header:
    attributes are (name NUL, type NUL, int32 size, value) up to an empty name."""
    pos = 8  # magic, version and flags
    while pos < len(data):
        name_end = data.find(b"\x00", pos, pos + _EXR_NAME_MAX)
        if name_end <= pos:  # the header's end (an empty name), or not a header
            return None
        type_end = data.find(b"\x00", name_end + 1, name_end + 1 + _EXR_NAME_MAX)
        if type_end < 0 or type_end + 5 > len(data):
            return None
        (size,) = struct.unpack("<i", data[type_end + 1 : type_end + 5])
        start = type_end + 5
        if (
            data[pos:name_end] == EXR_ATTRIBUTE.encode()
            and data[name_end + 1 : type_end] == b"string"
        ):
            if size > MAX_ENVELOPE_BYTES:
                raise PatchError(
                    f"the embedded patch is larger than {MAX_ENVELOPE_BYTES >> 20} MB", where
                )
            if size < 0 or start + size > len(data):
                raise PatchError("the embedded patch is damaged (truncated header)", where)
            return bytes(data[start : start + size])
        if size < 0:
            return None
        pos = start + size
    return None


def _payload(f: BinaryIO, where: str) -> bytes | None:
    """The envelope's bytes in an open picture, or None; the file is mapped, not read:
    only the chunks and segments walked are paged in (a 2 GB TIFF costs its IFD)."""
    if os.fstat(f.fileno()).st_size < 8:
        return None
    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        data = cast(bytes, mapped)  # sliced and searched like bytes
        if data[:4] == b"\x89PNG":
            return _png_payload(data, where)
        if data[:2] == b"\xff\xd8":
            return _jpeg_payload(data, where)
        if _tiff_order(data) is not None:
            return _tiff_payload(data, where)
        if data[:4] == _EXR_MAGIC:
            return _exr_payload(data, where)
    return None


def read_envelope(path: str | Path) -> dict[str, Any] | None:
    """The provenance envelope a picture carries, or None if it carries none. A damaged
    or oversized one raises ``PatchError`` naming the file."""
    path = Path(path)
    where = f"{path} (embedded patch)"
    try:
        with open_regular(path) as f:
            text = _payload(f, where)
    except FileNotFoundError:
        raise PatchError("no such file", str(path)) from None
    except (PathRefused, OSError) as exc:
        raise PatchError(f"cannot read the file: {exc}", str(path)) from None
    if text is None:
        return None
    try:
        envelope = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise PatchError(f"the embedded patch is not valid JSON: {exc}", where) from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise PatchError(f'expected a "{FORMAT}" envelope', where)
    return envelope


def patch_from_image(path: str | Path, registry: Registry | None = None) -> PatchGraph:
    """The patch embedded in the picture at ``path``, validated exactly as a patch file
    (``PatchError`` otherwise), with the picture's folder as its base; the node that
    wrote the picture writes it again (``source_file`` keeps a render off it)."""
    from .patch import patch_from_dict

    path = Path(path)
    envelope = read_envelope(path)
    where = f"{path} (embedded patch)"
    if envelope is None:
        raise PatchError("the picture carries no Gateway Studio patch", str(path))
    try:
        graph = patch_from_dict(envelope.get("patch"), registry, base_dir=path.resolve().parent)
    except PatchError as exc:
        raise PatchError(str(exc), where) from None
    writer = envelope.get("written_by")
    if isinstance(writer, str) and writer in graph:
        save = [p for p in graph.spec(writer).params if p.kind == "path" and p.save]
        if save:
            graph.set_param(writer, save[0].name, path.name)
    graph.source_file = path.resolve()
    return graph


def missing_sources(
    envelope: dict[str, Any], graph: PatchGraph, skip: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """(sources the envelope names whose file is absent from ``graph``'s folder, those
    whose file has other bytes now), one line each; nodes in ``skip`` are not checked
    (the user gave them another file)."""
    from .keys import fingerprint_file

    missing: list[str] = []
    changed: list[str] = []
    for source in envelope.get("sources", []):
        if not isinstance(source, dict) or source.get("node") in skip:
            continue
        node, param = source.get("node"), source.get("param")
        where = f"{node}.{param}"
        value = graph.node(str(node)).params.get(str(param)) if node in graph else None
        if not value:
            missing.append(f"{where}: no path recorded (minimal provenance)")
            continue
        target = resolve(str(value), graph.base_dir)
        if not target.is_file():
            missing.append(f"{where}: {target}")
        elif fingerprint_file(target) != source.get("fingerprint"):
            changed.append(f"{where}: {target} is not the file the picture was made from")
    return missing, changed
