"""Headless OpenGL for MuJoCo on a CPU-only machine: EGL (Mesa llvmpipe) by default,
OSMesa as fallback. MuJoCo reads ``MUJOCO_GL`` when it is imported, so ``sim`` chooses
before anything imports mujoco; a user's own ``MUJOCO_GL`` always wins."""

from __future__ import annotations

import ctypes.util
import os

BACKEND_LIBRARIES = {"egl": "EGL", "osmesa": "OSMesa"}


def choose_backend() -> str | None:
    """The first backend whose library is installed (egl, then osmesa), or None."""
    for backend, library in BACKEND_LIBRARIES.items():
        if ctypes.util.find_library(library):
            return backend
    return None


def configure() -> str | None:
    """Set ``MUJOCO_GL`` (and PyOpenGL's platform) unless the user did; return it."""
    backend = os.environ.get("MUJOCO_GL") or choose_backend()
    if backend:
        os.environ.setdefault("MUJOCO_GL", backend)
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    return backend


def no_backend_error(err: Exception) -> RuntimeError:
    return RuntimeError(
        f"MuJoCo cannot render headless (MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}): {err}. "
        "Install EGL (Debian: libegl1 libgl1-mesa-dri) or OSMesa (libosmesa6), or set "
        "MUJOCO_GL to a backend that works here ('neuro doctor' tests them)")
