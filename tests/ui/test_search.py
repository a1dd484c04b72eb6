"""Search speaks the artist's words: fuzzy, ranked, with the keywords in the tooltip."""

from __future__ import annotations

import pytest

from gateway_studio.engine import default_registry
from gateway_studio.engine.node import node
from gateway_studio.engine.slots import Image
from gateway_studio.ui.search import keywords, ranked


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("bokeh", "modulate.isolate"),
        ("dof", "modulate.isolate"),
        ("depth of field", "modulate.isolate"),
        ("lens blur", "modulate.isolate"),
        ("fog", "modulate.atmosphere"),
        ("haze", "modulate.atmosphere"),
        ("mist", "modulate.atmosphere"),
        ("aerial", "modulate.atmosphere"),
        ("glow", "modulate.halo"),
        ("bloom", "modulate.halo"),
        ("dream", "modulate.halo"),
        ("sketch", "modulate.drawing"),
        ("pencil", "modulate.drawing"),
        ("ink", "modulate.drawing"),
        ("vignette", "field.from_point"),
        ("exprot", "output.export"),  # a typo is forgiven
        ("atmo", "modulate.atmosphere"),  # a prefix finds it
    ],
)
def test_search_ranks_the_node_that_does_it_first(query: str, first: str) -> None:
    found = [s.type_id for s in ranked(default_registry(), query)]
    assert found and found[0] == first, found[:4]


def test_vignette_leads_to_a_point_field_then_a_blend() -> None:
    found = [s.type_id for s in ranked(default_registry(), "vignette")]
    assert found[:2] == ["field.from_point", "modulate.blend"]


def test_nonsense_finds_nothing() -> None:
    assert ranked(default_registry(), "zebra crossing") == []


def test_a_node_pack_adds_its_own_aliases() -> None:
    @node("test.glitch", outputs={"image": Image}, aliases=("Datamosh", "VHS"))
    def glitch(image: Image) -> Image:
        """Glitch the picture."""
        return image

    assert glitch.aliases == ("datamosh", "vhs")
    assert glitch.to_json()["aliases"] == ["datamosh", "vhs"]
    assert keywords(glitch)[:2] == ("datamosh", "vhs")
    assert [s.type_id for s in ranked([glitch], "datamosh")] == ["test.glitch"]


def test_the_tab_search_and_the_palette_rank_and_explain(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    popup = window.search_popup
    popup.line.setText("bokeh")
    first = popup.list.item(0)
    assert first.data(0x0100) == "modulate.isolate"
    assert "bokeh" in first.toolTip() and "also:" in first.toolTip()
    popup.line.setText("fog")
    assert popup.list.item(0).data(0x0100) == "modulate.atmosphere"
    popup.close()
    palette = window.node_palette
    palette.search.setText("dof")
    assert palette.visible_type_ids() == ["modulate.isolate"]
    added: list[str] = []
    palette.addRequested.connect(added.append)
    palette.search.setText("blur")  # field.blur and isolate: Enter adds the best
    palette.search.returnPressed.emit()
    assert added == ["field.blur"]
