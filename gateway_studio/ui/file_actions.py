"""File menu: new, open (patches, examples and photos), save, recent files, autosave and
crash recovery.

Recovery never blocks what the user asked for: the patch (or photo) named on the command
line opens first, and autosaved work from a session that did not close cleanly is offered
in a bar above the canvas, by its own name (``motorcycle (example)``, ``fog.json``,
``photo.jpg``), with Recover and Discard. Prompts name the patch the same way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import QObject
from qtpy.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

import gateway_studio
from gateway_studio.engine.batch import is_image_file
from gateway_studio.engine.errors import GatewayError
from gateway_studio.engine.imageio import READ_SUFFIXES
from gateway_studio.engine.patch import patch_to_dict
from gateway_studio.engine.provenance import patch_from_image, read_envelope

from .photo import photo_patch
from .session import Recovery

if TYPE_CHECKING:
    from .main_window import MainWindow

PHOTO_FILTER = "Photos (" + " ".join(f"*{s}" for s in READ_SUFFIXES) + ")"
#: OpenEXR files open only for the patch they carry (``output.export`` writes it there).
OPEN_FILTERS = (
    f"Patches and photos (*.json {PHOTO_FILTER[8:-1]} *.exr);;Patches (*.json);;"
    f"{PHOTO_FILTER};;Exported OpenEXR (*.exr)"
)


def resources_dir() -> Path:
    return Path(gateway_studio.__file__).resolve().parent.parent / "resources"


def example_patches() -> list[Path]:
    """The shipped patches: those on the real photo first (they look best), then the rest."""
    folder = resources_dir() / "patches"
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.json"), key=lambda p: (not _on_photo(p), p.name))


def _on_photo(path: Path) -> bool:
    return path.stem.startswith("motorcycle")


def is_example(path: Path) -> bool:
    try:
        return path.resolve().parent == (resources_dir() / "patches").resolve()
    except OSError:
        return False


def is_photo(path: Path) -> bool:
    """A photo rather than a patch: by its bytes (a photo named .json is still a photo)."""
    return path.is_file() and is_image_file(path)


class RecoveryBar(QFrame):
    """'Unsaved work on X from a session that did not close cleanly' — Recover / Discard."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryBar")
        self.setStyleSheet(
            "#recoveryBar { background: #3a3322; border-bottom: 1px solid #6b5a2a; }"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.recover_button = QPushButton("Recover")
        self.discard_button = QPushButton("Discard")
        row.addWidget(self.text, 1)
        row.addWidget(self.recover_button)
        row.addWidget(self.discard_button)
        self.setVisible(False)


class FileActions(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.doc = window.doc
        self.session = window.session
        #: What an untitled patch is called in prompts and Save As: the example or photo
        #: it was made from.
        self.origin: str | None = None
        self.pending: list[Recovery] = []
        self.bar = RecoveryBar()
        self.bar.recover_button.clicked.connect(lambda: self.recover())
        self.bar.discard_button.clicked.connect(self.discard_recovery)
        self.doc.reset.connect(self._after_reset)

    def _after_reset(self) -> None:
        self.origin = None  # open_example / open_photo set it again after loading

    # -- names ----------------------------------------------------------------------------
    def display_name(self) -> str:
        """How prompts name the open patch."""
        if self.doc.path is not None:
            return self.doc.path.name
        return self.origin or "untitled"

    # -- questions ------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """True when it is fine to throw the current patch away."""
        if not self.doc.dirty:
            return True
        answer = self.window.ask_save_changes()
        if answer == "save":
            return self.save()
        return answer == "discard"

    # -- new and open ---------------------------------------------------------------------
    def new_patch(self) -> None:
        if self.maybe_save():
            self.doc.new()
            self.session.discard_autosave()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        start = str(self.doc.path.parent) if self.doc.path else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open a patch or a photo", start, OPEN_FILTERS
        )
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        """Open a patch, an example (as an untitled copy) or a photo (as a new patch)."""
        path = Path(path)
        if is_photo(path):
            return self.open_photo(path, ask=ask)
        if is_example(path):  # however it is opened (command line, recent, drop)
            return self.open_example(path, ask=ask)
        if ask and not self.maybe_save():
            return False
        try:
            self.doc.open(path)
        except (GatewayError, OSError) as exc:
            self.window.show_error("Cannot open the patch", str(exc))
            return False
        self.session.add_recent(path)
        self.session.discard_autosave()
        self.window.show_message(f"opened {path}")
        return True

    def open_example(self, path: Path, ask: bool = True) -> bool:
        """Examples open as untitled copies, so Save never overwrites the shipped file."""
        if ask and not self.maybe_save():
            return False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.doc.load_dict(data, None, base_dir=path.resolve().parent)
        except (GatewayError, OSError, ValueError) as exc:
            self.window.show_error("Cannot open the example", str(exc))
            return False
        self.origin = f"{path.stem} (example)"
        self.window.refresh_title()
        self.session.discard_autosave()
        description = data.get("metadata", {}).get("description", "")
        self.window.show_message(f"example {path.stem}: {description}")
        return True

    def open_photo(self, path: Path, ask: bool = True) -> bool:
        """A photo opens as a new, untitled patch: the photo, its depth when there is a way
        to get it, and the viewer on the result (``photo.py``). A picture Gateway Studio
        exported reopens the patch it carries instead."""
        try:
            carries = read_envelope(path) is not None
        except GatewayError as exc:  # damaged or oversized: refused, as a bad patch is
            self.window.show_error("Cannot open the patch in the picture", str(exc))
            return False
        if carries:
            return self.open_picture_patch(path, ask=ask)
        if path.suffix.lower() == ".exr":  # not a photo: a render pass, read by depth.from_file
            self.window.show_error(
                "Cannot open the file",
                f"{path.name} is an OpenEXR file without a Gateway Studio patch; read its "
                "depth with a depth.from_file node",
            )
            return False
        if ask and not self.maybe_save():
            return False
        try:
            made = photo_patch(self.doc.registry, path)
            self.doc.load_dict(patch_to_dict(made.graph), None, base_dir=path.resolve().parent)
        except (GatewayError, OSError) as exc:
            self.window.show_error("Cannot open the photo", str(exc))
            return False
        self.origin = path.name
        self.window.refresh_title()
        self.session.discard_autosave()
        self.window.show_note(made.note)
        self.window.show_message(f"new patch on {path.name}: {made.summary}")
        return True

    def open_picture_patch(self, path: Path, ask: bool = True) -> bool:
        """The patch an exported picture carries, validated as a patch file is, as a new
        untitled patch based in the picture's folder; its export writes a new file beside
        the picture, never over it."""
        if ask and not self.maybe_save():
            return False
        try:
            graph = patch_from_image(path, self.doc.registry)
            data = patch_to_dict(graph)
            for entry in data["nodes"]:
                writer = graph.spec(entry["id"]).writes_files
                if writer and entry["params"].get("path") == path.name:
                    entry["params"]["path"] = _free_name(path)
            self.doc.load_dict(data, None, base_dir=path.resolve().parent)
        except (GatewayError, OSError) as exc:
            self.window.show_error("Cannot open the patch in the picture", str(exc))
            return False
        self.origin = f"{path.stem} (from {path.name})"
        self.window.refresh_title()
        self.session.discard_autosave()
        self.window.show_message(f"opened the patch that made {path.name}")
        return True

    # -- save -----------------------------------------------------------------------------
    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self.save_to(self.doc.path)

    def save_as_start(self) -> Path:
        """Where Save As starts: the file itself; else the example's (or photo's) name in
        the folder of the last patch (or home) — not 'untitled.json' in whatever folder
        the app was started from (often / or the install folder)."""
        if self.doc.path is not None:
            return self.doc.path
        recent = [p for p in self.session.recent() if p.parent.is_dir()]
        folder = recent[0].parent if recent else Path.home()
        stem = Path(self.origin.removesuffix(" (example)")).stem if self.origin else "untitled"
        return folder / f"{stem}.json"

    def save_as(self) -> bool:
        start = str(self.save_as_start())
        path, _ = QFileDialog.getSaveFileName(self.window, "Save patch", start, "Patches (*.json)")
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        try:
            saved = self.doc.save(path)
        except (GatewayError, OSError) as exc:
            self.window.show_error("Cannot save the patch", str(exc))
            return False
        self.session.add_recent(saved)
        self.session.discard_autosave()
        self.window.show_message(f"saved {saved}")
        return True

    # -- menus ----------------------------------------------------------------------------
    def fill_recent(self) -> None:
        menu = self.window.recent_menu
        menu.clear()
        recent = [p for p in self.session.recent() if p.exists()]
        for path in recent:
            menu.addAction(str(path), lambda p=path: self.open_path(p))
        if not recent:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list", self.session.clear_recent)

    def fill_examples(self) -> None:
        menu = self.window.examples_menu
        menu.clear()
        examples = example_patches()
        for i, path in enumerate(examples):
            if i and _on_photo(examples[i - 1]) and not _on_photo(path):
                menu.addSeparator()  # real photo above, synthetic scene below
            title = path.stem.replace("_", " ")
            try:
                meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
                title = meta.get("title", title)
                tip = meta.get("description", "")
            except (OSError, ValueError):
                tip = ""
            action = menu.addAction(title, lambda p=path: self.open_example(p))
            action.setStatusTip(tip)
            action.setToolTip(tip)
        if not examples:
            menu.addAction("(no examples found)").setEnabled(False)

    # -- autosave and recovery ------------------------------------------------------------
    def autosave(self) -> None:
        if self.doc.dirty and len(self.doc.graph):
            try:
                self.session.autosave(
                    self.doc.to_dict(),
                    self.doc.path,
                    self.doc.graph.base_dir,
                    name=self.display_name(),
                )
            except OSError as exc:
                self.window.show_message(f"autosave failed: {exc}")

    def offer_recovery(self) -> Recovery | None:
        """Show the recovery bar for the newest orphaned autosave (never a modal question:
        what the user asked to open is already open). None when there is nothing."""
        self.pending = self.session.orphaned()
        if not self.pending:
            self.bar.setVisible(False)
            return None
        newest = self.pending[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.saved))
        more = f" (and {len(self.pending) - 1} older)" if len(self.pending) > 1 else ""
        self.bar.text.setText(
            f"Unsaved work on <b>{recovery_name(newest)}</b>, autosaved {when}{more}, from a "
            "session that did not close cleanly."
        )
        self.bar.setVisible(True)
        return newest

    def recover(self) -> bool:
        """Recover the offered work (the bar's Recover): it replaces the open patch, after
        asking to save that one if it has changes."""
        if not self.pending or not self.maybe_save():
            return False
        newest = self.pending[0]
        path = Path(newest.path) if newest.path else None
        # an untitled copy of an example keeps its relative image paths working
        base = Path(newest.base_dir) if newest.base_dir else None
        try:
            self.doc.load_dict(newest.patch, path, base_dir=base, recovered=True)
        except GatewayError as exc:
            self.window.show_error("Cannot recover", str(exc))
            return False
        if path is None and newest.name:
            self.origin = newest.name
            self.window.refresh_title()
        self.discard_recovery()
        self.autosave()
        self.window.show_message(f"recovered unsaved work on {recovery_name(newest)} — save it")
        return True

    def discard_recovery(self) -> None:
        for item in self.pending:
            item.file.unlink(missing_ok=True)
        self.pending = []
        self.bar.setVisible(False)


def _free_name(picture: Path) -> str:
    """``fog-2.png`` (or -3, …): a name beside ``picture`` that is not taken."""
    n = 2
    while (picture.parent / f"{picture.stem}-{n}{picture.suffix}").exists():
        n += 1
    return f"{picture.stem}-{n}{picture.suffix}"


def recovery_name(recovery: Recovery) -> str:
    """The file, else the name the window gave the untitled patch, else 'an untitled
    patch'."""
    if recovery.path:
        return Path(recovery.path).name
    return recovery.name or "an untitled patch"
