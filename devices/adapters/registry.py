"""Which adapter speaks to which camera: a registry by USB VID/PID.

Built-in adapters (Ambarella) are always there; vendor plug-ins add theirs as Python entry
points in the group `evidence_station.camera_adapters`, each naming a `CameraAdapter`
subclass, e.g. in the plug-in's pyproject.toml:

    [project.entry-points."evidence_station.camera_adapters"]
    acme_zfy = "acme_zfy.adapter:AcmeZfyAdapter"

A plug-in may take over a built-in's VID/PID (it knows its camera better); a plug-in that
fails to load, or claims what another plug-in already claimed, is logged and skipped, so
one broken plug-in never stops the station.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from collections.abc import Iterable

from devices.adapters.ambarella import AmbarellaAdapter
from devices.adapters.base import CameraAdapter

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "evidence_station.camera_adapters"
BUILTIN_ADAPTERS: tuple[type[CameraAdapter], ...] = (AmbarellaAdapter,)


class AdapterRegistry:
    """Adapter classes by (VID, PID)."""

    def __init__(self, adapters: Iterable[type[CameraAdapter]] = ()) -> None:
        self._by_id: dict[tuple[int, int], type[CameraAdapter]] = {}
        for adapter in adapters:
            self.register(adapter)

    def register(self, adapter: type[CameraAdapter], *, replace: bool = False) -> None:
        """Serve `adapter.usb_ids` with `adapter`. Raises ValueError if one is taken by
        another adapter and `replace` is false, or if the class is not a CameraAdapter."""
        if not (isinstance(adapter, type) and issubclass(adapter, CameraAdapter)):
            raise ValueError(f"{adapter!r} is not a CameraAdapter subclass")
        if not adapter.usb_ids:
            raise ValueError(f"adapter {adapter.name!r} serves no USB VID/PID")
        taken = {
            f"{vid:04x}:{pid:04x} ({self._by_id[vid, pid].name})"
            for vid, pid in adapter.usb_ids
            if (vid, pid) in self._by_id and self._by_id[vid, pid] is not adapter
        }
        if taken and not replace:
            raise ValueError(
                f"adapter {adapter.name!r}: already served: {', '.join(sorted(taken))}"
            )
        for usb_id in adapter.usb_ids:
            self._by_id[usb_id] = adapter

    def lookup(self, vid: int, pid: int) -> type[CameraAdapter] | None:
        return self._by_id.get((vid, pid))

    def adapters(self) -> list[type[CameraAdapter]]:
        return sorted(set(self._by_id.values()), key=lambda a: a.name)

    def with_adapters(self, *adapters: type[CameraAdapter]) -> AdapterRegistry:
        """A copy that also serves `adapters` (replacing what they claim)."""
        copy = AdapterRegistry()
        copy._by_id = dict(self._by_id)
        for adapter in adapters:
            copy.register(adapter, replace=True)
        return copy


@functools.cache
def default_registry() -> AdapterRegistry:
    """Built-in adapters plus the installed plug-ins (loaded once per process)."""
    return load_registry()


def load_registry() -> AdapterRegistry:
    """Built-in adapters plus the plug-ins installed now (see the module's docstring)."""
    registry = AdapterRegistry(BUILTIN_ADAPTERS)
    claimed_by_plugins: set[tuple[int, int]] = set()
    for entry_point in sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name
    ):
        try:
            adapter = entry_point.load()
            clash = claimed_by_plugins & set(adapter.usb_ids)
            if clash:
                raise ValueError(f"VID/PID {sorted(clash)} already served by another plug-in")
            registry.register(adapter, replace=True)  # may take over a built-in's camera
        except Exception:  # a broken plug-in must not stop the station: log and go on
            log.exception("camera adapter plug-in %r not loaded", entry_point.value)
            continue
        claimed_by_plugins |= adapter.usb_ids
        log.info("camera adapter plug-in %s loaded from %s", adapter.name, entry_point.value)
    return registry
