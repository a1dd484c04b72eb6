"""Where a render may write: the patch's own folder, or where the user said.

The rule. A graph read from patch data (a file, the clipboard, a recovered autosave) may
write only inside its own folder and below, or to targets the user consented to:

* a file or folder the user named: ``--output``, ``--set NODE.path=…``, ``--out-dir`` on
  the command line; the file chosen in the app's Export dialog, the folder chosen in its
  batch dialog;
* every target, with ``--allow-write-outside`` or the app's one-time confirmation (the
  way Blender asks before running a file's scripts).

Anything else is refused before it is written: absolute paths elsewhere, ``..`` escapes,
``~``, and symlinks that lead out (targets are compared by their real path). A graph
built in code (a script, a test, a new patch in the app) writes where its code says.

Whatever the consent, a render never writes over a file the same render reads (its
photos, depth maps, the patch file itself).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GatewayError
from .paths import resolve

if TYPE_CHECKING:
    from .graph import PatchGraph

#: What the refusal suggests: how to give consent.
CONSENT_HINT = (
    "allow it with --allow-write-outside (command line) or by confirming the render (app), "
    "or choose the file with --output / --out-dir / File ▸ Export"
)


class WriteRefused(GatewayError):
    """A write the rule forbids (no consent, or onto a file the render reads)."""


def real(path: str | os.PathLike[str]) -> Path:
    """The path with every symlink resolved (a missing tail is kept as written)."""
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class WriteConsent:
    """What the user agreed a graph may write, besides its own folder."""

    #: The folder rule applies (graphs read from patch data). A graph built in code is
    #: not restricted: it writes where its code says.
    restricted: bool = False
    #: ``--allow-write-outside``: every target is fine.
    anywhere: bool = False
    folders: tuple[Path, ...] = ()
    files: tuple[Path, ...] = ()

    def allow_folder(self, folder: str | os.PathLike[str]) -> WriteConsent:
        return replace(self, folders=(*self.folders, Path(os.path.abspath(folder))))

    def allow_file(self, file: str | os.PathLike[str]) -> WriteConsent:
        return replace(self, files=(*self.files, Path(os.path.abspath(file))))

    def allow_anywhere(self) -> WriteConsent:
        return replace(self, anywhere=True)

    def permits(self, target: Path, base_dir: Path | None, *, strict: bool = False) -> bool:
        """Whether writing ``target`` (a resolved path) needs no further consent.
        ``strict`` applies the folder rule to unrestricted graphs too (the app asks)."""
        if self.anywhere or not (self.restricted or strict):
            return True
        t = real(target)
        if any(t == real(f) for f in self.files):
            return True
        roots = [*([base_dir] if base_dir is not None else []), *self.folders]
        return any(t.is_relative_to(real(root)) for root in roots)


def _path_params(graph: PatchGraph, *, save: bool) -> list[tuple[str, str]]:
    """("node.param", value) of every file param a node reads (or writes), set."""
    found = []
    for inst in graph.nodes():
        if save and inst.bypass:  # a bypassed sink writes nothing
            continue
        for p in graph.spec(inst.id).params:
            value = inst.params.get(p.name, p.default)
            if p.kind == "path" and p.save == save and value:
                found.append((f"{inst.id}.{p.name}", str(value)))
    return found


def read_targets(graph: PatchGraph, base_dir: Path | None = None) -> dict[Path, str]:
    """{real path: "node.param"} of every file the graph reads, the patch file included."""
    base = base_dir if base_dir is not None else graph.base_dir
    reads = {real(resolve(value, base)): ref for ref, value in _path_params(graph, save=False)}
    if graph.source_file is not None:
        reads.setdefault(real(graph.source_file), "the patch file")
    return reads


def write_targets(graph: PatchGraph, base_dir: Path | None = None) -> list[tuple[str, Path]]:
    """("node.param", resolved path) of every file the graph's sinks write."""
    base = base_dir if base_dir is not None else graph.base_dir
    return [(ref, resolve(value, base)) for ref, value in _path_params(graph, save=True)]


def outside_writes(
    graph: PatchGraph, base_dir: Path | None = None, *, strict: bool = False
) -> list[tuple[str, Path]]:
    """The write targets the graph's consent does not cover (see the module docstring)."""
    base = base_dir if base_dir is not None else graph.base_dir
    consent = graph.write_consent
    return [
        (ref, path)
        for ref, path in write_targets(graph, base)
        if not consent.permits(path, base, strict=strict)
    ]


def overwritten_reads(
    graph: PatchGraph, base_dir: Path | None = None
) -> list[tuple[str, Path, str]]:
    """(writer "node.param", path, reader) for every write onto a file the graph reads."""
    reads = read_targets(graph, base_dir)
    return [
        (ref, path, reads[real(path)])
        for ref, path in write_targets(graph, base_dir)
        if real(path) in reads
    ]


def overwrite_message(ref: str, path: Path, reader: str) -> str:
    return (
        f"{ref} would overwrite {path}, which {reader} reads; a render never writes over "
        "its own input: write the output somewhere else (--output / --out-dir)"
    )


class WriteGuard:
    """Checks one node's write target when it is about to be written (the evaluator
    hands one to every node's ``Context``)."""

    def __init__(self, graph: PatchGraph, base_dir: Path | None = None) -> None:
        self._graph = graph
        self.base_dir = base_dir if base_dir is not None else graph.base_dir
        self.consent = graph.write_consent

    @cached_property
    def reads(self) -> dict[Path, str]:
        return read_targets(self._graph, self.base_dir)

    def check(self, path: Path, ref: str) -> Path:
        """``path`` if it may be written; ``WriteRefused`` naming it and why not."""
        reader = self.reads.get(real(path))
        if reader is not None:
            raise WriteRefused(overwrite_message(ref, path, reader))
        if not self.consent.permits(path, self.base_dir):
            folder = str(self.base_dir) if self.base_dir else "none: the patch is unsaved"
            raise WriteRefused(
                f"{ref}: refused to write {path}: a patch may write only inside its own "
                f"folder ({folder}) or where you said; {CONSENT_HINT}"
            )
        return path
