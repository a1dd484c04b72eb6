"""Patch files: validation with locations, exact round trips, atomic saves, fuzzing."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway_studio.engine import (
    Evaluator,
    PatchError,
    load_patch,
    patch_from_dict,
    patch_to_dict,
    save_patch,
)
from gateway_studio.engine.patch import patch_from_json, set_params_from_mapping

from .fake_nodes import registry

REG = registry()


def valid() -> dict[str, Any]:
    return {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": [
            {
                "id": "a",
                "type": "test.const",
                "params": {"value": 0.3, "size": 8},
                "position": [0.0, 10.0],
            },
            {"id": "b", "type": "test.const", "params": {"value": 0.1, "size": 8}},
            {
                "id": "sum",
                "type": "test.add",
                "params": {"gain": 1.0},
                "position": [200.0, 0.0],
                "bypass": True,
                "title": "Sum",
            },
            {"id": "remap", "type": "field.remap", "params": {"gamma": 2.0}},
        ],
        "links": [
            {"from": "a.field", "to": "sum.a"},
            {"from": "b.field", "to": "sum.b"},
            {"from": "sum.field", "to": "remap.source"},
        ],
        "backdrops": [{"title": "Inputs", "rect": [0, 0, 100, 100], "color": "#224466"}],
        "metadata": {"author": "test", "nested": {"k": [1, 2]}},
    }


def test_round_trip_is_exact(tmp_path: Path) -> None:
    graph = patch_from_dict(valid(), REG)
    saved = patch_to_dict(graph)
    again = patch_to_dict(patch_from_dict(copy.deepcopy(saved), REG))
    assert saved == again
    assert saved["nodes"][3]["params"]["gamma"] == 2.0
    assert saved["nodes"][3]["params"]["gain"] == 1.0, "defaults are written out"
    save_patch(graph, tmp_path / "p.json")
    text = (tmp_path / "p.json").read_text()
    loaded = load_patch(tmp_path / "p.json", REG)
    assert patch_to_dict(loaded) == saved
    assert loaded.base_dir == tmp_path.resolve()
    save_patch(loaded, tmp_path / "p.json")
    assert (tmp_path / "p.json").read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_atomic_save_keeps_the_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = patch_from_dict(valid(), REG)
    target = tmp_path / "p.json"
    save_patch(graph, target)
    before = target.read_text()
    import gateway_studio.engine.files as files_module

    def boom(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files_module.os, "replace", boom)
    graph.set_param("a", "value", 0.9)
    with pytest.raises(OSError):
        save_patch(graph, target)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def mutate(path: list[Any], value: Any) -> dict[str, Any]:
    data = valid()
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "where", "message"),
    [
        (["format"], "other", "format", "expected"),
        (["version"], 2, "version", "newer|update Gateway Studio"),
        (["version"], "1", "version", "integer"),
        (["version"], 0, "version", "unknown format version"),
        (["extra"], 1, "patch", "unknown key"),
        (["nodes"], {}, "nodes", "a list of nodes"),
        (["nodes", 1], "x", r"nodes\[1\]", "a node object"),
        (["nodes", 1, "id"], 5, r"nodes\[1\]\.id", "a string id"),
        (["nodes", 1, "id"], "a", r"nodes\[1\]\.id", "duplicate node id 'a'"),
        (["nodes", 1, "id"], "bad id", r"nodes\[1\]\.id", "must start with"),
        (["nodes", 1, "type"], "no.such", r"nodes\[1\]\.type", "unknown node type 'no.such'"),
        (
            ["nodes", 0, "params", "value"],
            1.7,
            r"nodes\[0\]\.params\.value",
            "1.7 is above the maximum 1",
        ),
        (["nodes", 0, "params", "value"], "hi", r"nodes\[0\]\.params\.value", "a number"),
        (
            ["nodes", 0, "params", "strength"],
            1,
            r"nodes\[0\]\.params\.strength",
            "has no param 'strength'",
        ),
        (["nodes", 0, "params"], [], r"nodes\[0\]\.params", "an object"),
        (["nodes", 0, "position"], [1], r"nodes\[0\]\.position", "two finite numbers"),
        (["nodes", 0, "position"], [1, float("nan")], r"nodes\[0\]\.position", "finite"),
        (["nodes", 0, "bypass"], "yes", r"nodes\[0\]\.bypass", "true or false"),
        (["nodes", 0, "colour"], "red", r"nodes\[0\]", "unknown key"),
        (["links", 0, "from"], "a", r"links\[0\]\.from", "node.slot"),
        (["links", 0, "from"], "zz.field", r"links\[0\]\.from", "no node with id 'zz'"),
        (["links", 0, "from"], "a.nope", r"links\[0\]", "no output 'nope'"),
        (["links", 0, "to"], "sum.c", r"links\[0\]", "no input 'c'"),
        (["links", 1, "to"], "sum.a", r"links\[1\]\.to", "already has a link"),
        (["links", 0], {"from": "a.field"}, r"links\[0\]\.to", "node.slot"),
        (["links", 0, "via"], "x", r"links\[0\]", "unknown key"),
        (["links"], "x", "links", "a list of links"),
        (["backdrops", 0, "rect"], [1, 2], r"backdrops\[0\]\.rect", "four finite numbers"),
        (["backdrops"], {}, "backdrops", "a list"),
        (["metadata"], [], "metadata", "an object"),
    ],
)
def test_malformed_patches_name_the_place(
    path: list[Any], value: Any, where: str, message: str
) -> None:
    with pytest.raises(PatchError, match=message) as info:
        patch_from_dict(mutate(path, value), REG)
    assert info.value.location and __import__("re").match(where, info.value.location)


def test_a_cycle_in_the_file_is_refused() -> None:
    data = valid()
    data["nodes"].append({"id": "c", "type": "test.add"})
    data["links"] += [{"from": "remap.field", "to": "c.a"}, {"from": "c.field", "to": "sum.a"}]
    data["links"].pop(0)
    with pytest.raises(PatchError, match="cycle") as info:
        patch_from_dict(data, REG)
    assert info.value.location == "links[3]"


def test_json_errors_and_files(tmp_path: Path) -> None:
    with pytest.raises(PatchError, match=r"p\.json:1:2: not valid JSON"):
        patch_from_json("{,}", REG, source="p.json")
    with pytest.raises(PatchError, match="no such file"):
        load_patch(tmp_path / "none.json", REG)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PatchError, match="cannot read"):
        load_patch(tmp_path / "bin.json", REG)
    (tmp_path / "bad.json").write_text(json.dumps(mutate(["nodes", 0, "params", "value"], 3)))
    with pytest.raises(PatchError, match=r"bad\.json: nodes\[0\]\.params\.value"):
        load_patch(tmp_path / "bad.json", REG)
    with pytest.raises(PatchError, match="a JSON object"):
        patch_from_dict([], REG)


def test_set_params_from_mapping() -> None:
    graph = patch_from_dict(valid(), REG)
    set_params_from_mapping(graph, {"a.value": 0.9})
    assert graph.node("a").params["value"] == 0.9
    with pytest.raises(PatchError, match="above the maximum"):
        set_params_from_mapping(graph, {"a.value": 9})


def test_loaded_patch_evaluates() -> None:
    data = valid()
    data["nodes"][2]["bypass"] = False
    result = Evaluator().evaluate(patch_from_dict(data, REG), strict=True)
    assert result.ok


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
    | st.sampled_from(["a.field", "sum.a", "test.const", "#ffffff"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def paths_of(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += paths_of(v, (*prefix, i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_patches_only_ever_raise_patch_error(data: st.DataObject) -> None:
    patch = valid()
    for _ in range(data.draw(st.integers(1, 3))):
        paths = paths_of(patch)
        path = data.draw(st.sampled_from(paths))
        parent: Any = patch
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=6))] = data.draw(json_values)
        elif action == "add" and isinstance(parent, list):
            parent.append(data.draw(json_values))
        else:
            parent[path[-1]] = data.draw(json_values)
    try:
        graph = patch_from_dict(patch, REG)
    except PatchError:
        return
    assert patch_to_dict(patch_from_dict(patch_to_dict(graph), REG)) == patch_to_dict(graph)


# Python's own number/JSON limits must surface as a PatchError with a location.
_HUGE = 10**400  # JSON allows it; float() of it overflows


@pytest.mark.parametrize(
    ("where", "edit"),
    [
        ("nodes[3].params.gamma", lambda p: p["nodes"][3]["params"].update(gamma=_HUGE)),
        ("nodes[0].position", lambda p: p["nodes"][0].update(position=[_HUGE, 0])),
        ("backdrops[0].rect", lambda p: p["backdrops"][0].update(rect=[_HUGE, 0, 1, 1])),
    ],
    ids=["param", "position", "rect"],
)
def test_huge_numbers_raise_patch_error_naming_the_place(where: str, edit: Any) -> None:
    patch = valid()
    edit(patch)
    with pytest.raises(PatchError, match=re.escape(where)):
        patch_from_dict(patch, REG)


@pytest.mark.parametrize(
    "text",
    ['{"version": 1' + "0" * 5000 + "}", "[" * 100_000 + "]" * 100_000],
    ids=["overlong-int", "deep-nesting"],
)
def test_json_limits_raise_patch_error(text: str) -> None:
    with pytest.raises(PatchError):
        patch_from_json(text, REG, source="x.json")


def test_saved_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """mkstemp makes 0600 files; a saved patch must be readable like any other file."""
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    save_patch(patch_from_dict(valid(), REG), tmp_path / "p.json")
    assert (tmp_path / "p.json").stat().st_mode & 0o777 == 0o666 & ~mask
