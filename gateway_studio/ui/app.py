"""``gateway-studio [PATCH]``: the window first, everything heavy later.

No torch or transformers here or in anything this imports at module level, so the window
shows in well under a second. They are imported in the background once the window is
up and the UI idle (``warmup.py``): that import freezes the UI thread for ~0.2 s whatever
thread does it, and start-up is a better moment for it than the first model node.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

_T0 = time.perf_counter()


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gateway-studio", description="Gateway Studio desktop app"
    )
    parser.add_argument(
        "patch", nargs="?", help="patch file (.json) to open, or a photo to start a patch on"
    )
    parser.add_argument(
        "--no-recovery",
        action="store_true",
        help="do not offer autosaved work from a crashed session",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="save a picture of the window once the patch has evaluated, "
        "then quit (documentation, tests)",
    )
    parser.add_argument("--screenshot-timeout", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument(
        "--window-size",
        type=_size,
        metavar="WxH",
        help="initial window size in pixels, e.g. 1800x1050 (screenshots for the docs)",
    )
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(list(argv))


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if w < 400 or h < 300:
        raise argparse.ArgumentTypeError("the window needs at least 400x300")
    return w, h


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from .main_window import MainWindow
    from .theme import apply_dark_theme

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Gateway Studio")
    app.setOrganizationName("Gateway Studio")
    apply_dark_theme(app)  # type: ignore[arg-type]
    from gateway_studio.engine import remote

    # Model nodes run in the model-worker process (engine/remote.py), started on first
    # use: the app never imports torch, and a crash in a runtime fails only that node.
    remote.use_worker(True)
    window = MainWindow()
    place_window(window, args.window_size, restore=not args.screenshot)
    shown = time.perf_counter() - _T0
    window.show_message(f"ready in {shown:.2f} s")

    def start() -> None:
        # what was asked for opens first; recovery is offered beside it, never before it
        if args.patch:
            window.files.open_path(Path(args.patch), ask=False)
        if not args.no_recovery and not args.screenshot:
            window.files.offer_recovery()

    QTimer.singleShot(0, start)
    from .warmup import enabled

    # With the model worker (the default) torch loads there, never here: nothing to warm.
    if enabled() and not args.screenshot and not remote.worker_enabled():
        # after the patch has opened and evaluated; each import waits for an idle UI
        QTimer.singleShot(1500, window.start_warm_imports)
    if args.screenshot:
        _arrange_screenshot(window, Path(args.screenshot), args.screenshot_timeout)
    code = app.exec()
    return int(code)


def place_window(window: object, size: tuple[int, int] | None, *, restore: bool) -> str:
    """Show the window at ``size``; else as the user left it; else maximised, filling the
    screen's free area (done by hand too: with no window manager, as under Xvfb, Qt's
    maximise does nothing). Returns how it was placed."""
    from qtpy.QtCore import QTimer
    from qtpy.QtGui import QGuiApplication

    from .main_window import MainWindow

    assert isinstance(window, MainWindow)
    if size is not None:
        window.resize(*size)
        window.show()
        how = "size"
    elif restore and window.restore_layout():
        window.show()
        return "restored"  # the docks as the user left them too
    else:
        screen = window.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            window.setGeometry(screen.availableGeometry())
        window.showMaximized()
        how = "maximised"
    QTimer.singleShot(0, window.fit_docks)
    return how


def _arrange_screenshot(window: object, out: Path, timeout: float) -> None:
    """Grab the window once evaluation settles (thumbnails and viewer drawn), then quit."""
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from .main_window import MainWindow

    assert isinstance(window, MainWindow)
    started = time.perf_counter()
    quiet = {"since": None}
    answered: list[object] = []
    window.controller.evaluated.connect(answered.append)

    def poll() -> None:
        busy = window.controller.busy or window.worker.busy()
        now = time.perf_counter()
        # evaluated (the viewer may show a node's error instead of a picture), or nothing
        # to evaluate
        settled = not busy and (bool(answered) or len(window.doc.graph) == 0)
        if settled:
            quiet["since"] = quiet["since"] or now  # type: ignore[assignment]
        else:
            quiet["since"] = None
        if (quiet["since"] and now - quiet["since"] > 0.8) or now - started > timeout:
            out.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(out))
            print(f"screenshot: {out} after {now - started:.1f} s", file=sys.stderr)
            timer.stop()
            window.doc.undo_stack.setClean()
            window.close()
            QApplication.quit()

    timer = QTimer(window)
    timer.setInterval(100)
    timer.timeout.connect(poll)
    timer.start()
