"""The platform registry: every adapter module in this package, looked up by the ``{platform}`` path segment.

A module is an adapter when it defines ``NAME`` (see ``base.Adapter``); adding a platform is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def _discover() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(module, "NAME", None)
        if name is None:
            continue
        if name in found:
            raise RuntimeError(f"two adapters claim platform '{name}'")
        found[name] = module
    return found


PLATFORMS: dict[str, ModuleType] = _discover()


def get(name: str) -> ModuleType | None:
    return PLATFORMS.get(name)
