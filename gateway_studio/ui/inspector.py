"""The inspector: the selected node's title, bypass and knobs, generated from its
ParamSpecs (the knob widgets are in ``knobs.py``). Edits go through the Document, so they
are undoable; a slider drag is one undo step."""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gateway_studio.engine.errors import GraphError
from gateway_studio.engine.params import ParamSpec

from .controller import EvalController
from .document import Document
from .knobs import (
    EDITORS,
    BoolEditor,
    ChoiceEditor,
    ColorEditor,
    NumberEditor,
    ParamEditor,
    PathEditor,
    TextEditor,
    make_editor,
)

__all__ = [
    "EDITORS",
    "BoolEditor",
    "ChoiceEditor",
    "ColorEditor",
    "Inspector",
    "NumberEditor",
    "ParamEditor",
    "PathEditor",
    "TextEditor",
    "make_editor",
]


class Inspector(QWidget):
    """Knobs of one node. Edits go through the Document (undoable)."""

    message = Signal(str)

    def __init__(
        self, doc: Document, controller: EvalController | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.doc = doc
        self.controller = controller
        self.node_id: str | None = None
        self.editors: dict[str, ParamEditor] = {}
        self.resets: dict[str, QToolButton] = {}
        self.labels: dict[str, QLabel] = {}
        self._gesture = 0
        self._dragging = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer.addWidget(scroll)
        self.body = QWidget()
        scroll.setWidget(self.body)
        self.layout_ = QVBoxLayout(self.body)
        self.layout_.setContentsMargins(10, 8, 10, 8)
        self.title = QLabel("No node selected")
        self.title.setObjectName("inspectorTitle")
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)
        self.notes = QLabel("")  # what the node's output says: holes, metres, provenance
        self.notes.setObjectName("notes")
        self.notes.setWordWrap(True)
        self.layout_.addWidget(self.title)
        self.layout_.addWidget(self.subtitle)
        self.layout_.addWidget(self.notes)
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("title shown on the node (optional)")
        self.title_edit.editingFinished.connect(self._title_edited)
        self.layout_.addWidget(self.title_edit)
        self.bypass = QCheckBox("Bypass (pass the input through)")
        self.bypass.toggled.connect(self._bypass_toggled)
        self.layout_.addWidget(self.bypass)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 6, 0, 0)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.layout_.addWidget(self.form_host)
        self.layout_.addStretch(1)
        doc.paramChanged.connect(self._on_param_changed)
        doc.bypassChanged.connect(self._on_bypass_changed)
        doc.titleChanged.connect(self._on_title_changed)
        doc.nodeRemoved.connect(lambda nid: self.set_node(None) if nid == self.node_id else None)
        doc.reset.connect(lambda: self.set_node(None))
        self.set_node(None)

    @property
    def dragging(self) -> bool:
        return self._dragging

    def set_notes(self, notes: tuple[str, ...]) -> None:
        """Show the selected node's output notes (e.g. "calibrated: 1.46 m … 9.33 m")."""
        self.notes.setText("\n".join(f"• {n}" for n in notes))
        self.notes.setVisible(bool(notes))

    def set_node(self, node_id: str | None, selected: int = 0) -> None:
        """Edit ``node_id``'s knobs; None with ``selected`` > 1 says a group is selected."""
        if node_id == self.node_id and node_id is not None:
            return
        self._finish_drag()
        self.node_id = node_id
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        self.resets.clear()
        self.labels.clear()
        if node_id is None or node_id not in self.doc.graph:
            self.node_id = None
            if selected > 1:
                self.title.setText(f"{selected} nodes selected")
                self.subtitle.setText(
                    "Select one node to edit its knobs. B bypasses, Ctrl+D duplicates, "
                    "Ctrl+B puts a backdrop around them."
                )
            else:
                self.title.setText("No node selected")
                self.subtitle.setText("Select a node on the canvas to edit its knobs.")
            self.bypass.setVisible(False)
            self.title_edit.setVisible(False)
            return
        inst = self.doc.graph.node(node_id)
        spec = self.doc.graph.spec(node_id)
        self.title.setText(inst.title or node_id)
        self.subtitle.setText(f"{spec.type_id} v{spec.version} · {spec.help}")
        self.bypass.setVisible(True)
        # a source has no input to pass through (unless a file says it is bypassed: undo it)
        self.bypass.setEnabled(bool(spec.inputs) or inst.bypass)
        self.bypass.setToolTip("" if spec.inputs else "A source node has no input to pass through")
        self.title_edit.setVisible(True)
        self.title_edit.setText(inst.title)
        self.bypass.blockSignals(True)
        self.bypass.setChecked(inst.bypass)
        self.bypass.blockSignals(False)
        if not spec.params:
            self.form.addRow(QLabel("This node has no knobs."))
        for pspec in spec.params:
            editor = make_editor(pspec, base_dir=lambda: self.doc.graph.base_dir)
            editor.set_value(inst.params.get(pspec.name, pspec.default))
            editor.edited.connect(lambda v, final, n=pspec.name: self._edited(n, v, final))
            editor.dragStarted.connect(self._begin_drag)
            reset = QToolButton()
            reset.setText("↺")
            reset.setToolTip(f"Reset to the default ({pspec.default!r})")
            reset.clicked.connect(lambda _=False, p=pspec: self._reset(p))
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(editor, 1)
            lay.addWidget(reset)
            label = QLabel(pspec.label or pspec.name.replace("_", " "))
            label.setToolTip(pspec.help)
            self.form.addRow(label, row)
            self.editors[pspec.name] = editor
            self.resets[pspec.name] = reset
            self.labels[pspec.name] = label
            self._update_reset(pspec.name)
        self._update_applies()

    def _update_applies(self) -> None:
        """Knobs that do nothing with the node's other settings are greyed out, saying when
        they would apply (``fixed near`` only while normalisation is ``fixed``)."""
        if self.node_id is None:
            return
        spec = self.doc.graph.spec(self.node_id)
        params = self.doc.graph.node(self.node_id).params
        defaults = spec.default_params()
        for pspec in spec.params:
            if pspec.when is None or pspec.name not in self.editors:
                continue
            applies = pspec.applies(params, defaults)
            note = "" if applies else f" — {pspec.when_text()}"
            for widget in (self.editors[pspec.name], self.labels[pspec.name]):
                widget.setEnabled(applies)
            self.labels[pspec.name].setToolTip(f"{pspec.help}{note}".strip(" —"))
            self.editors[pspec.name].setToolTip(pspec.when_text() if not applies else "")

    def _update_reset(self, name: str) -> None:
        if self.node_id is None or name not in self.resets:
            return
        pspec = self.doc.graph.spec(self.node_id).param(name)
        value = self.doc.graph.node(self.node_id).params.get(name)
        self.resets[name].setEnabled(pspec is not None and value != pspec.default)

    # -- edits --------------------------------------------------------------------------
    def _begin_drag(self) -> None:
        if self.node_id is None:
            return
        self._gesture += 1
        self._dragging = True
        if self.controller is not None:
            self.controller.begin_interaction(self.node_id)

    def _finish_drag(self) -> None:
        if self._dragging:
            self._dragging = False
            if self.controller is not None:
                self.controller.end_interaction()

    def _edited(self, name: str, value: Any, final: bool) -> None:
        if self.node_id is None:
            return
        gesture = self._gesture if self._dragging else None
        try:
            self.doc.set_param(self.node_id, name, value, gesture=gesture)
        except GraphError as exc:
            self.message.emit(str(exc))
            editor = self.editors.get(name)
            if editor is not None:
                editor.set_value(self.doc.graph.node(self.node_id).params.get(name))
        if final:
            self._finish_drag()

    def _reset(self, pspec: ParamSpec) -> None:
        if self.node_id is not None:
            self.doc.set_param(self.node_id, pspec.name, pspec.default)

    def _title_edited(self) -> None:
        if self.node_id is not None:
            self.doc.set_title(self.node_id, self.title_edit.text().strip())
            inst = self.doc.graph.node(self.node_id)
            self.title.setText(inst.title or self.node_id)

    def _bypass_toggled(self, on: bool) -> None:
        if self.node_id is not None:
            self.doc.set_bypass(self.node_id, on)

    def _on_param_changed(self, node_id: str, name: str, value: Any) -> None:
        if node_id == self.node_id and name in self.editors:
            self.editors[name].set_value(value)
            self._update_reset(name)
            self._update_applies()

    def _on_title_changed(self, node_id: str, title: str) -> None:
        """Undo/redo of a rename: heading and field follow the patch."""
        if node_id == self.node_id:
            self.title.setText(title or node_id)
            if self.title_edit.text().strip() != title:
                self.title_edit.setText(title)

    def _on_bypass_changed(self, node_id: str, bypass: bool) -> None:
        if node_id == self.node_id:
            self.bypass.blockSignals(True)
            self.bypass.setChecked(bypass)
            self.bypass.blockSignals(False)
