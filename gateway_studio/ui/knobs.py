"""The knobs: one editor widget per param kind, picked from one table (``EDITORS``).

Every editor emits ``edited(value, final)``: ``final`` is False while a slider is being
dragged (the app previews on a proxy and merges the drag into one undo step) and True
when the value is settled (release, Enter, a click).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtCore import QEvent, QObject, Qt, Signal
from qtpy.QtGui import QColor, QKeyEvent, QKeySequence
from qtpy.QtWidgets import (
    QApplication,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from gateway_studio.engine.imageio import READ_SUFFIXES
from gateway_studio.engine.params import ParamSpec

SLIDER_STEPS = 1000
SPIN_WIDTH = 100


def _is_undo_or_redo(event: QKeyEvent) -> bool:
    """The app's Undo/Redo keys (Ctrl+Z; Ctrl+Shift+Z, Ctrl+Y), as main_window binds them."""
    if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
        return True
    pressed = QKeySequence(event.keyCombination())
    return any(pressed == QKeySequence(k) for k in ("Ctrl+Shift+Z", "Ctrl+Y"))


class WheelGuard(QObject):
    """The wheel over a knob that has no focus scrolls the inspector instead of changing it.

    Scrolling down the inspector used to change whichever slider, number box or choice the
    pointer crossed; a choice even changed on screen without changing the patch (its edit
    is on ``activated``, which the wheel does not emit). Click a knob first to wheel it."""

    def guard(self, widget: QWidget) -> None:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not WheelFocus
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            parent = obj.parentWidget()
            if parent is not None:  # on to the scroll area
                QApplication.sendEvent(parent, event)
            return True
        return super().eventFilter(obj, event)


class ParamEditor(QWidget):
    """Base of the per-kind editors (the factory table picks one); each subclass
    implements ``value`` and ``set_value``. A QWidget cannot also be an ABC (Shiboken's
    metaclass), so the base methods raise instead."""

    edited = Signal(object, bool)  # value, final
    dragStarted = Signal()

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setToolTip(spec.help)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.row = layout
        self.wheel_guard = WheelGuard(self)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError


class NumberEditor(ParamEditor):
    """Slider + spin box for ranged numbers (log slider for ranges over many decades)."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.is_int = spec.kind == "int"
        lo = spec.min if spec.min is not None else -1e9
        hi = spec.max if spec.max is not None else 1e9
        self.lo, self.hi = float(lo), float(hi)
        self.log = self.lo > 0 and self.hi / self.lo > 1e3
        self.spin: QSpinBox | QDoubleSpinBox
        if self.is_int:
            self.spin = QSpinBox()
            self.spin.setRange(int(max(lo, -(2**31) + 1)), int(min(hi, 2**31 - 1)))
            self.spin.setSingleStep(int(spec.step or 1))
        else:
            self.spin = QDoubleSpinBox()
            decimals = 3
            if spec.step:
                decimals = max(2, min(6, -math.floor(math.log10(spec.step)) + 1))
            if self.log and not spec.step:
                decimals = 6  # no step to go by: keep small values of a wide range visible
            self.spin.setDecimals(decimals)
            self.spin.setRange(lo, hi)
            self.spin.setSingleStep(spec.step or (hi - lo) / 100 if not self.log else 0.1)
        self.spin.setKeyboardTracking(False)
        # one width for every number box, so the sliders beside them line up
        self.spin.setFixedWidth(SPIN_WIDTH)
        self.slider: QSlider | None = None
        ranged = spec.min is not None and spec.max is not None
        if ranged:
            self.slider = QSlider(Qt.Orientation.Horizontal)
            steps = SLIDER_STEPS
            if self.is_int and (hi - lo) <= SLIDER_STEPS:
                steps = int(hi - lo)
            self.slider.setRange(0, max(steps, 1))
            self.slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.row.addWidget(self.slider, 1)
            self.slider.sliderPressed.connect(self.dragStarted)
            self.slider.valueChanged.connect(self._slider_moved)
            self.slider.sliderReleased.connect(self._slider_released)
        self.row.addWidget(self.spin, 0)
        self.spin.valueChanged.connect(self._spin_changed)
        self.spin.installEventFilter(self)
        self.wheel_guard.guard(self.spin)
        if self.slider is not None:
            self.wheel_guard.guard(self.slider)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Ctrl+Z in a number box that holds a committed value undoes the patch edit (the
        box's own text undo swallowed it, so typing 0.5, Enter, Ctrl+Z did nothing)."""
        if (
            obj is self.spin
            and event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and _is_undo_or_redo(event)
            and self.spin.text() == self.spin.textFromValue(self.spin.value())
        ):
            return True  # not accepted: the window's Undo / Redo shortcut fires
        return super().eventFilter(obj, event)

    # slider position <-> value
    def _to_slider(self, value: float) -> int:
        assert self.slider is not None
        n = self.slider.maximum()
        if self.log:
            t = (math.log(max(value, self.lo)) - math.log(self.lo)) / (
                math.log(self.hi) - math.log(self.lo)
            )
        else:
            t = (value - self.lo) / (self.hi - self.lo) if self.hi > self.lo else 0.0
        return round(min(max(t, 0.0), 1.0) * n)

    def _from_slider(self, pos: int) -> float | int:
        assert self.slider is not None
        t = pos / max(self.slider.maximum(), 1)
        if self.log:
            value = math.exp(math.log(self.lo) + t * (math.log(self.hi) - math.log(self.lo)))
        else:
            value = self.lo + t * (self.hi - self.lo)
        if self.is_int:
            return round(value)
        step = self.spec.step
        if step and not self.log:
            value = self.lo + round((value - self.lo) / step) * step
        return float(min(max(round(value, 6), self.lo), self.hi))

    def _slider_moved(self, pos: int) -> None:
        value = self._from_slider(pos)
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        assert self.slider is not None
        self.edited.emit(value, not self.slider.isSliderDown())

    def _slider_released(self) -> None:
        assert self.slider is not None
        self.edited.emit(self._from_slider(self.slider.value()), True)

    def _spin_changed(self, value: float) -> None:
        if self.slider is not None:
            self.slider.blockSignals(True)
            self.slider.setValue(self._to_slider(value))
            self.slider.blockSignals(False)
        self.edited.emit(int(value) if self.is_int else float(value), True)

    def value(self) -> Any:
        return int(self.spin.value()) if self.is_int else float(self.spin.value())

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        if self.slider is not None and not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(self._to_slider(float(value)))
            self.slider.blockSignals(False)


class BoolEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.box = QCheckBox()
        self.row.addWidget(self.box)
        self.row.addStretch(1)
        self.box.toggled.connect(lambda on: self.edited.emit(bool(on), True))

    def value(self) -> Any:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class ChoiceEditor(ParamEditor):
    """A combo; editable when the choices are only suggestions (``strict`` False)."""

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = QComboBox()
        self.combo.addItems(list(spec.choices))
        self.combo.setEditable(not spec.strict)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.row.addWidget(self.combo, 1)
        self.wheel_guard.guard(self.combo)
        if spec.strict:
            # any change (click, keys, the wheel once focused): 'activated' misses the wheel
            self.combo.currentIndexChanged.connect(
                lambda i: self.edited.emit(self.combo.itemText(i), True)
            )
        else:
            line = self.combo.lineEdit()
            assert line is not None
            line.editingFinished.connect(lambda: self.edited.emit(self.combo.currentText(), True))
            self.combo.activated.connect(lambda i: self.edited.emit(self.combo.itemText(i), True))

    def value(self) -> Any:
        return self.combo.currentText()

    def set_value(self, value: Any) -> None:
        self.combo.blockSignals(True)
        index = self.combo.findText(str(value))
        if index >= 0:
            self.combo.setCurrentIndex(index)
        else:
            self.combo.setEditText(str(value))
        self.combo.blockSignals(False)


class ColorEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.button = QPushButton()
        self.button.setMinimumWidth(90)
        self.row.addWidget(self.button)
        self.row.addStretch(1)
        self._value = str(spec.default)
        self.button.clicked.connect(self._pick)

    def _pick(self) -> None:
        color = QColorDialog.getColor(QColor(self._value), self, self.spec.label or self.spec.name)
        if color.isValid():
            self.edited.emit(color.name(), True)

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = str(value)
        text = "#000" if QColor(self._value).lightness() > 128 else "#fff"
        self.button.setText(self._value)
        self.button.setStyleSheet(f"background: {self._value}; color: {text};")


class PathEditor(ParamEditor):
    def __init__(
        self,
        spec: ParamSpec,
        parent: QWidget | None = None,
        base_dir: Callable[[], Path | None] | None = None,
    ) -> None:
        super().__init__(spec, parent)
        self.base_dir = base_dir or (lambda: None)
        self.line = QLineEdit()
        self.line.setPlaceholderText("file to write…" if spec.save else "choose a file…")
        self.button = QToolButton()
        self.button.setText("…")
        self.button.setToolTip("Browse")
        self.row.addWidget(self.line, 1)
        self.row.addWidget(self.button)
        self.line.editingFinished.connect(self._typed)
        self.button.clicked.connect(self._browse)
        self._value = ""

    def _typed(self) -> None:
        if self.line.text() != self._value:
            self.edited.emit(self.line.text(), True)

    def _browse(self) -> None:
        start = str(self.base_dir() or Path.home())
        if self._value:
            current = Path(self._value)
            start = str(current if current.is_absolute() else Path(start) / current)
        if self.spec.save:
            path, _ = QFileDialog.getSaveFileName(self, "Write to", start)
        else:
            images = " ".join(f"*{s}" for s in READ_SUFFIXES)
            path, _ = QFileDialog.getOpenFileName(
                self, "Open", start, f"Images ({images});;Arrays (*.npy);;All files (*)"
            )
        if path:
            self.edited.emit(path, True)

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = str(value)
        self.line.setText(self._value)


class TextEditor(ParamEditor):
    def __init__(self, spec: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.line = QLineEdit()
        self.row.addWidget(self.line, 1)
        self.line.editingFinished.connect(lambda: self.edited.emit(self.line.text(), True))

    def value(self) -> Any:
        return self.line.text()

    def set_value(self, value: Any) -> None:
        self.line.setText(str(value))


#: The one table from a param kind to its editor.
EDITORS: dict[str, type[ParamEditor]] = {
    "float": NumberEditor,
    "int": NumberEditor,
    "bool": BoolEditor,
    "choice": ChoiceEditor,
    "color": ColorEditor,
    "path": PathEditor,
    "str": TextEditor,
}


def make_editor(spec: ParamSpec, base_dir: Callable[[], Path | None] | None = None) -> ParamEditor:
    cls = EDITORS.get(spec.kind, TextEditor)
    if cls is PathEditor:
        return PathEditor(spec, base_dir=base_dir)
    return cls(spec)
