"""Camera adapters: one interface (`CameraAdapter`), one registry by USB VID/PID."""

from devices.adapters.base import AdapterOptions, CameraAdapter, CameraInfo
from devices.adapters.registry import ENTRY_POINT_GROUP, AdapterRegistry, default_registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "AdapterOptions",
    "AdapterRegistry",
    "CameraAdapter",
    "CameraInfo",
    "default_registry",
]
