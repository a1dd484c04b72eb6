"""Node search in the artist's words: fuzzy, ranked, shared by the palette and Tab.

A node is found by its label, its type id, its family, its ``aliases`` (``@node(...,
aliases=...)``) and the built-in artist vocabulary below, which speaks for the shipped
nodes ("bokeh" is what ``modulate.isolate`` does). Matching forgives a typo (one edit in
words of five letters or more) and prefixes; ranking puts whole-word and phrase hits of
a name or keyword before partial ones, and help-text hits last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway_studio.engine.node import NodeSpec

#: What artists call what the shipped nodes do (type id → keywords, strongest first).
ARTIST_WORDS: dict[str, tuple[str, ...]] = {
    "modulate.isolate": (
        "dof",
        "depth of field",
        "bokeh",
        "lens blur",
        "focus",
        "shallow focus",
        "defocus",
        "tilt shift",
        "portrait mode",
    ),
    "modulate.atmosphere": ("fog", "haze", "mist", "aerial perspective", "smoke", "depth fog"),
    "modulate.halo": ("glow", "bloom", "dream", "soft glow", "orton", "glare"),
    "modulate.drawing": ("sketch", "pencil", "ink", "line art", "illustration"),
    "modulate.depth_band": ("posterize", "depth slice", "stylise", "tint", "colour grade"),
    "modulate.blend": ("mix", "composite", "merge", "layer", "alpha", "over"),
    "field.from_point": ("vignette", "radial", "spotlight", "gradient"),
    "field.from_depth": ("depth mask", "falloff", "depth range"),
    "field.remap": ("curve", "levels", "gamma", "contrast", "invert"),
    "field.blur": ("feather", "soften", "smooth"),
    "field.combine": ("multiply", "add", "max", "min", "union", "intersect"),
    "field.from_mask": ("feather mask", "matte"),
    "depth.estimate": ("depth map", "z depth", "depth anything", "midas", "monocular"),
    "depth.from_file": ("load depth", "z pass", "disparity"),
    "depth.embedded": ("portrait depth", "iphone depth", "heic depth"),
    "depth.fill": ("inpaint depth", "holes"),
    "depth.region": ("flatten depth", "planes"),
    "faces.detect": ("face", "portrait", "people", "face detection"),
    "segment.semantic": ("segmentation", "labels", "sky", "person mask", "matte"),
    "segment.subject": ("cutout", "person", "foreground", "roto", "background removal"),
    "geometry.normals": ("normal map", "surface"),
    "geometry.relight": ("light", "lighting", "shading", "sun"),
    "geometry.point_cloud": ("3d", "ply", "mesh", "points"),
    "output.export": ("save", "write", "render"),
    "source.image": ("photo", "load", "read", "picture", "file"),
}
#: Nodes a word leads to as the second step of its recipe (vignette: a point field, then
#: a blend through it): found, ranked after the node the word names.
RECIPE_WORDS: dict[str, tuple[str, ...]] = {
    "modulate.blend": ("vignette",),
}

_WORD = re.compile(r"[a-z0-9]+")


def keywords(spec: NodeSpec) -> tuple[str, ...]:
    """The node's own aliases, then the built-in artist words for it."""
    own = tuple(spec.aliases)
    return own + tuple(w for w in ARTIST_WORDS.get(spec.type_id, ()) if w not in own)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _near(a: str, b: str) -> bool:
    """One edit apart (insert, delete, substitute or swap), for words of five letters+."""
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _word_score(query: str, words: Iterable[str]) -> int:
    best = 0
    for w in words:
        if w == query:
            return 3
        if w.startswith(query) and len(query) >= 2:
            best = max(best, 2)
        elif _near(query, w):
            best = max(best, 1)
    return best


def score(spec: NodeSpec, text: str) -> int:
    """How well ``text`` finds ``spec``: 0 is no match; higher ranks first."""
    query = " ".join(_words(text))
    if not query:
        return 1
    names = [spec.label.lower(), spec.type_id.lower(), spec.type_id.split(".")[-1]]
    keys = list(keywords(spec))
    # whole phrase: a name or a keyword said exactly, or begun
    if query in names or query.replace(" ", "_") in names:
        return 100
    if query in keys:
        return 95 - min(keys.index(query), 5)
    if query == spec.family.lower():
        return 88
    if any(n.startswith(query) for n in names):
        return 85
    if any(k.startswith(query) for k in keys):
        return 80
    if query in RECIPE_WORDS.get(spec.type_id, ()):
        return 70
    # word by word: every word of the query must be found somewhere
    name_words = [w for n in names for w in _words(n)]
    key_words = [w for k in keys for w in _words(k)]
    family = _words(spec.family)
    help_words = _words(spec.help)
    total = 0
    for q in query.split():
        s = max(
            _word_score(q, name_words) * 12,
            _word_score(q, key_words) * 10,
            _word_score(q, family) * 6,
            _word_score(q, help_words) * 3,
        )
        if s == 0:
            return 0
        total += s
    return min(60, total // len(query.split()) + 20)


def ranked(specs: Iterable[NodeSpec], text: str) -> list[NodeSpec]:
    """The matching specs, best first (ties: by label)."""
    scored = [(score(s, text), s) for s in specs]
    return [s for sc, s in sorted(scored, key=lambda x: (-x[0], x[1].label)) if sc > 0]
