"""GA/T 947-style body cameras: the interface a vendor plug-in implements.

Cameras built to the GA/T 947 family are driven through the vendor's SDK (a DLL or shared
library sending vendor SCSI commands). Its calls are the same across vendors: `Init_Device`,
`GetIDCode`, `GetZFYInfo`/`WriteZFYInfo`, `SyncDevTime`, `SetMSDC`,
`ReadDeviceBatteryDumpEnergy`. A vendor plug-in implements `Gat947Sdk` on top of the vendor's
library (ctypes, SCSI pass-through, ...) and subclasses `Gat947Adapter` with the VID/PID pairs
it serves; the registry finds it by entry point (see `devices.adapters.registry`).
`simulation.gat947_emulated` is the implementation used with the emulated camera.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from datetime import datetime
from typing import ClassVar

import usb.core

from devices.adapters.base import CameraAdapter, CameraInfo, offers_mass_storage
from devices.errors import ProtocolError, UnsupportedOperation

# Placeholder: units set their own 6-byte password; pass it as AdapterOptions.passwords[name].
DEFAULT_PASSWORD = "000000"


@dataclass(frozen=True)
class ZfyInfo:
    """The camera's ZFY record (执法仪信息): who and which unit the camera belongs to."""

    device_serial: str  # cSerial: the camera's serial (产品序号)
    officer_id: str  # userNo: 警号
    officer_name: str  # userName: GBK
    unit_code: str  # unitNo
    unit_name: str  # unitName: GBK

    # Fixed-width GBK fields with a terminating NUL, as in the SDK's struct. A common layout;
    # vendors' headers differ, and their plug-ins convert from their own struct.
    FIELD_BYTES: ClassVar[dict[str, int]] = {
        "device_serial": 8,
        "officer_id": 7,
        "officer_name": 33,
        "unit_code": 13,
        "unit_name": 33,
    }

    def to_bytes(self) -> bytes:
        """The struct's bytes. Raises ValueError if a value does not fit its field in GBK."""
        out = b""
        for f in fields(self):
            size = self.FIELD_BYTES[f.name]
            try:
                encoded = getattr(self, f.name).encode("gbk")
            except UnicodeEncodeError as exc:
                raise ValueError(f"ZFY {f.name}: not representable in GBK") from exc
            if len(encoded) >= size:
                raise ValueError(f"ZFY {f.name}: {len(encoded)} bytes, at most {size - 1} fit")
            out += encoded.ljust(size, b"\x00")
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> ZfyInfo:
        """Parse the struct. Raises ProtocolError when it is short or not GBK."""
        expected = sum(cls.FIELD_BYTES.values())
        if len(raw) < expected:
            raise ProtocolError(f"ZFY record of {len(raw)} bytes, expected {expected}")
        values: dict[str, str] = {}
        offset = 0
        for name, size in cls.FIELD_BYTES.items():
            field_bytes = raw[offset : offset + size].split(b"\x00", 1)[0]
            offset += size
            try:
                values[name] = field_bytes.decode("gbk").strip()
            except UnicodeDecodeError as exc:
                raise ProtocolError(f"ZFY {name}: not GBK: {field_bytes!r}") from exc
        return cls(**values)


def check_password(password: str) -> bytes:
    """The 6-byte password as sent. Raises ValueError for anything else."""
    encoded = password.encode("ascii", errors="replace")
    if len(encoded) != 6 or not password.isascii():
        raise ValueError("a GA/T 947 password is 6 ASCII characters")
    return encoded


class Gat947Sdk(ABC):
    """The SDK calls, one method each. Methods raise DeviceError (DeviceTimeout when the
    camera does not answer, ProtocolError when it refuses, e.g. a wrong password)."""

    @abstractmethod
    def get_id_code(self) -> bytes:
        """GetIDCode: the 5-byte maker + model code."""

    @abstractmethod
    def get_zfy_info(self, password: str) -> ZfyInfo:
        """GetZFYInfo."""

    @abstractmethod
    def write_zfy_info(self, info: ZfyInfo, password: str) -> None:
        """WriteZFYInfo: assign the camera to an officer and unit."""

    @abstractmethod
    def sync_dev_time(self, local_time: datetime, password: str) -> None:
        """SyncDevTime: set the camera's clock to `local_time` (sent as YYYYMMDDhhmmss).

        Vendor libraries that read the host clock themselves ignore `local_time`: then the
        station's time zone must be the cameras' (Asia/Shanghai).
        """

    @abstractmethod
    def set_msdc(self, password: str) -> None:
        """SetMSDC: switch the camera to USB mass storage."""

    @abstractmethod
    def read_device_battery_dump_energy(self, password: str) -> int:
        """ReadDeviceBatteryDumpEnergy: remaining battery, percent."""

    def read_dev_time(self, password: str) -> datetime:
        """The camera's local clock (naive). Not part of the common SDK: some vendors have it."""
        raise UnsupportedOperation("this GA/T 947 SDK cannot read the camera's clock")

    @abstractmethod
    def close(self) -> None:
        """Release the camera. Never raises."""


class Gat947Adapter(CameraAdapter):
    """The common camera interface over a `Gat947Sdk`.

    Subclass per vendor: set `name` and `usb_ids` and implement `open` to build the SDK and
    return `cls(sdk, password=options.password(cls.name, DEFAULT_PASSWORD))`. Override
    `needs_preparation` when the camera shows a mass-storage interface before `SetMSDC`.
    """

    def __init__(self, sdk: Gat947Sdk, *, password: str) -> None:
        check_password(password)
        self.sdk = sdk
        self._password = password

    @classmethod
    def needs_preparation(cls, device: usb.core.Device) -> bool:
        return not offers_mass_storage(device)

    def read_info(self) -> CameraInfo:
        zfy = self.sdk.get_zfy_info(self._password)
        code = self.sdk.get_id_code()
        printable = code.isascii() and code.decode("ascii").isprintable()
        return CameraInfo(
            device_id=zfy.device_serial or None,
            officer_id=zfy.officer_id or None,
            officer_name=zfy.officer_name or None,
            unit_code=zfy.unit_code or None,
            unit_name=zfy.unit_name or None,
            model_code=code.decode("ascii") if printable else code.hex(),
        )

    def read_clock(self) -> datetime:
        return self.sdk.read_dev_time(self._password)

    def set_clock(self, local_time: datetime) -> None:
        self.sdk.sync_dev_time(local_time.replace(microsecond=0), self._password)

    def switch_to_mass_storage(self) -> None:
        self.sdk.set_msdc(self._password)

    def write_zfy_info(self, info: ZfyInfo) -> None:
        self.sdk.write_zfy_info(info, self._password)

    def battery_percent(self) -> int:
        return self.sdk.read_device_battery_dump_energy(self._password)

    def close(self) -> None:
        self.sdk.close()
