"""Finding what is registered: a package's own modules, then third-party ones through entry points.

Stage kinds and fusions register themselves when their module is imported (a class decorator).
:func:`discover` imports every module of the package that holds the built-in ones, so a new
built-in is one new file, and every module an installed distribution names in an entry-point
group, so a plugin needs no edit here at all:

    # a plugin's pyproject.toml
    [project.entry-points."cascade_explorer.kinds"]
    my-reranker = "my_package.my_reranker"      # a module whose import registers the kind

A plugin that fails to import is reported once as a warning (naming it and why) and skipped: a
broken third-party package must not take the library down.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from importlib import metadata

KIND_GROUP = "cascade_explorer.kinds"
FUSION_GROUP = "cascade_explorer.fusions"
CHECK_GROUP = "cascade_explorer.checks"    # the doctor's checks (cascade_core/doctor/registry.py)


def discover(package: str, path, group: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Import the modules of ``package`` (at ``path``, its ``__path__``) not in ``skip`` and not
    private, then every entry point of ``group``; return the entry points' names."""
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        importlib.import_module(f"{package}.{info.name}")
    loaded = []
    for ep in entry_points(group):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - a third party's import error, whatever it is
            warnings.warn(f"the {group} plugin {ep.name!r} ({ep.value}) could not be loaded and is skipped: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        loaded.append(ep.name)
    return loaded


def entry_points(group: str) -> list:
    """The installed entry points of ``group``, by name."""
    return sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)
