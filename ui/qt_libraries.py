"""Before Qt starts: are the system libraries it loads there? If not, say which and how to install them.

Without them Qt aborts deep inside its platform plugin ("could not load the Qt platform plugin xcb …
xcb-cursor0 is needed"), which tells a teacher nothing. This module imports no Qt: it tries to load
each library the way Qt would (`dlopen` by its soname) and names the Debian/Ubuntu package of each
one that is missing.
"""
from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# soname -> Debian/Ubuntu package; what Qt's GUI module needs on every platform (offscreen included)
GUI_LIBRARIES = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libX11.so.6": "libx11-6",
}
# what the X11 platform plugin (xcb) loads on top
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}


def uses_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will open its windows through X11 (xcb) rather than offscreen, minimal, Wayland, …"""
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:  # "xcb", "offscreen", "wayland;xcb" (a fallback list), "xcb:option=…"
        return "xcb" in [p.split(":")[0].strip() for p in chosen.split(";")]
    return not (environ.get("WAYLAND_DISPLAY") and not environ.get("DISPLAY"))


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(environ: Mapping[str, str] | None = None, platform: str | None = None,
                      loads: Callable[[str], bool] | None = None) -> dict[str, str]:
    """{soname: package} of every library Qt will need here and cannot load (empty off Linux)."""
    environ = os.environ if environ is None else environ
    loads = loads or _loads
    if not (platform or sys.platform).startswith("linux"):
        return {}
    needed = dict(GUI_LIBRARIES)
    if uses_xcb(environ):
        needed.update(XCB_LIBRARIES)
    return {soname: package for soname, package in needed.items() if not loads(soname)}


def problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
            loads: Callable[[str], bool] | None = None) -> str | None:
    """One line naming the missing libraries and the command that installs them, or None if all load."""
    missing = missing_libraries(environ, platform, loads)
    if not missing:
        return None
    names = ", ".join(missing)
    packages = " ".join(dict.fromkeys(missing.values()))
    return (f"stepformer: Qt cannot start: the system {'library' if len(missing) == 1 else 'libraries'} "
            f"{names} {'is' if len(missing) == 1 else 'are'} missing; install with: "
            f"sudo apt-get install {packages}")


__all__ = ["GUI_LIBRARIES", "XCB_LIBRARIES", "missing_libraries", "problem", "uses_xcb"]
