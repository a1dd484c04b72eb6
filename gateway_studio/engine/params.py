"""Parameter specs: data-only descriptions of a node's knobs.

A node function's keyword-only arguments become ``ParamSpec``s (see ``node.py``):

    strength: Annotated[float, Range(0, 1, step=0.01), Help("how strong")] = 0.5
    mode: Literal["multiply", "max"] = "multiply"
    tint: Color = "#ffffff"
    path: FilePath = ""

The UI maps ``ParamSpec.kind`` to a widget through one table; patch files and the CLI
validate values with ``ParamSpec.validate``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from .errors import GatewayError

ParamKind = Literal["float", "int", "bool", "choice", "color", "path", "str"]


class ParamError(GatewayError, ValueError):
    """A parameter value is of the wrong type or out of range."""


@dataclass(frozen=True)
class Range:
    """Bounds (inclusive) and slider step of a numeric parameter."""

    min: float
    max: float
    step: float | None = None


@dataclass(frozen=True)
class Help:
    text: str


@dataclass(frozen=True)
class Label:
    text: str


@dataclass(frozen=True)
class Choices:
    """Suggested values for a str parameter that also accepts others (e.g. model ids)."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class When:
    """The knob applies only while another param of the node has one of ``values``:

        fixed_near: Annotated[float, Range(0, 1), When("normalisation", "fixed")] = 1.0

    The inspector greys it out otherwise; the node still receives its value."""

    param: str
    values: tuple[Any, ...]

    def __init__(self, param: str, *values: Any) -> None:
        if not values:
            raise TypeError(f"When({param!r}) needs at least one value")
        object.__setattr__(self, "param", param)
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class Picks:
    """The knob holds a value of one of the node's inputs (a depth, a field), so the
    app's eyedropper can set it from the pixel the artist clicks:

        focus: Annotated[float, Range(0, 1), Picks("depth")] = 0.8
    """

    input: str
    #: The param holding the half-width of the range around this value that the knob
    #: defines (isolate's ``focus_range``), drawn on the app's depth histogram.
    spread: str | None = None


@dataclass(frozen=True)
class _Kind:
    kind: ParamKind


#: A colour, stored as "#rrggbb".
Color = Annotated[str, _Kind("color")]


@dataclass(frozen=True)
class _Save:
    """Marks a path the node *writes* (its name, not its bytes, goes into the key)."""


#: A file path the node reads; relative paths resolve against the patch file's folder.
#: The engine hashes the file's bytes into the node's cache key.
FilePath = Annotated[str, _Kind("path")]
#: A file path the node writes (export targets).
SavePath = Annotated[str, _Kind("path"), _Save()]

_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def parse_color(value: str) -> tuple[float, float, float]:
    """'#rrggbb' → (r, g, b) floats in [0, 1]."""
    if not _COLOR_RE.match(value):
        raise ParamError(f"{value!r} is not a colour of the form #rrggbb")
    return tuple(int(value[i : i + 2], 16) / 255.0 for i in (1, 3, 5))  # type: ignore[return-value]


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: ParamKind
    default: Any
    label: str = ""
    help: str = ""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    #: For "choice": False when values outside ``choices`` are allowed (suggestions).
    strict: bool = True
    #: For "path": the node writes this file (True) rather than reads it.
    save: bool = False
    #: Applies only while this other param has one of these values (``When``).
    when: When | None = None
    #: The input whose value under a clicked pixel this knob takes (``Picks``), and the
    #: param giving the half-width of its range.
    picks: str | None = None
    spread: str | None = None

    def applies(self, params: Mapping[str, Any], defaults: Mapping[str, Any]) -> bool:
        """Whether the knob does anything, given the node's current params."""
        if self.when is None:
            return True
        value = params.get(self.when.param, defaults.get(self.when.param))
        return value in self.when.values

    def when_text(self) -> str:
        """'applies when normalisation is fixed' (empty without a condition)."""
        if self.when is None:
            return ""
        values = " or ".join(str(v) for v in self.when.values)
        return f"applies when {self.when.param.replace('_', ' ')} is {values}"

    def validate(self, value: Any) -> Any:
        """Return the value in canonical form, or raise ParamError saying what is wrong."""
        kind = self.kind
        if kind == "bool":
            if not isinstance(value, bool):
                raise ParamError(f"expected true or false, got {value!r}")
            return value
        if kind in ("float", "int"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(f"expected a number, got {value!r}")
            if kind == "int":
                if isinstance(value, float):
                    if not value.is_integer():
                        raise ParamError(f"expected a whole number, got {value!r}")
                    value = int(value)
            else:
                try:
                    value = float(value)
                except OverflowError:  # JSON allows 1e400-sized integers
                    raise ParamError("the number is too large") from None
                if not math.isfinite(value):
                    raise ParamError(f"expected a finite number, got {value!r}")
            if self.min is not None and value < self.min:
                raise ParamError(f"{value!r} is below the minimum {self.min!r}")
            if self.max is not None and value > self.max:
                raise ParamError(f"{value!r} is above the maximum {self.max!r}")
            return value
        if not isinstance(value, str):
            raise ParamError(f"expected a string, got {value!r}")
        if kind == "choice" and self.strict and value not in self.choices:
            raise ParamError(f"{value!r} is not one of {', '.join(repr(c) for c in self.choices)}")
        if kind == "color":
            parse_color(value)
            return value.lower()
        return value

    def parse_text(self, text: str) -> Any:
        """Parse a command-line value (``--set node.param=TEXT``) and validate it."""
        value: Any = text
        if self.kind == "bool":
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                value = True
            elif lowered in ("0", "false", "no", "off"):
                value = False
            else:
                raise ParamError(f"expected true or false, got {text!r}")
        elif self.kind in ("float", "int"):
            try:
                value = float(text)  # "50.0" is a fine int, as it is in a patch file
            except ValueError:
                article = "an" if self.kind == "int" else "a"
                raise ParamError(f"expected {article} {self.kind} number, got {text!r}") from None
            if self.kind == "int" and value.is_integer() and text.strip().lstrip("+-").isdigit():
                value = int(text)  # exact, even beyond float precision
        return self.validate(value)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "choices": list(self.choices) if self.choices else None,
            "label": self.label or self.name.replace("_", " "),
            "help": self.help,
            "save": self.save if self.kind == "path" else None,
            "when": (
                {"param": self.when.param, "in": list(self.when.values)} if self.when else None
            ),
            "picks": self.picks,
            "spread": self.spread,
        }
