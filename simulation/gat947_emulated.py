"""The GA/T 947-style SDK as implemented for the emulated camera (`EmulatedGat947Camera`).

Real GA/T 947 cameras take vendor SCSI commands through the vendor's library; their wire
format is each vendor's own. The emulated camera instead takes the SDK calls as small binary
frames on a vendor-specific interface (bulk OUT 0x02 / IN 0x82), so that the SDK interface,
the adapter and the station run over real pyusb code paths. The frame format below is ours:

    request  b"GAT9" | op (u8) | password (6 bytes) | length (u16 LE) | payload
    answer   b"GAT9" | status (u8) | length (u16 LE) | payload

This adapter is not in the default registry (VID 0x1209 is the open pid.codes VID; a real
device there speaks something else): tests and the simulator add it, see
`simulation.emulated_cameras.emulation_registry`.
"""

from __future__ import annotations

import struct
from datetime import datetime
from enum import IntEnum
from typing import Self

import usb.core

from devices.adapters.base import AdapterOptions, UsbBulkChannel
from devices.adapters.gat947 import (
    DEFAULT_PASSWORD,
    Gat947Adapter,
    Gat947Sdk,
    ZfyInfo,
    check_password,
)
from devices.errors import ProtocolError

VID, PID = 0x1209, 0x0947
OUT_EP, IN_EP = 0x02, 0x82
MAGIC = b"GAT9"
_HEADER = struct.Struct("<4sB6sH")
_ANSWER_HEADER = struct.Struct("<4sBH")
_TIME_FORMAT = "%Y%m%d%H%M%S"


class Op(IntEnum):
    GET_ID_CODE = 0x01
    GET_ZFY_INFO = 0x02
    WRITE_ZFY_INFO = 0x03
    SYNC_DEV_TIME = 0x04
    SET_MSDC = 0x05
    READ_BATTERY = 0x06
    READ_DEV_TIME = 0x07


class Status(IntEnum):
    OK = 0
    BAD_PASSWORD = 1
    UNKNOWN_OP = 2
    BAD_REQUEST = 3


def encode_request(op: Op, password: str, payload: bytes = b"") -> bytes:
    return _HEADER.pack(MAGIC, op, check_password(password), len(payload)) + payload


def decode_request(raw: bytes) -> tuple[int, bytes, bytes]:
    """(op, password, payload) of a request. Raises ProtocolError when malformed."""
    if len(raw) < _HEADER.size:
        raise ProtocolError(f"GA/T 947 request too short: {raw!r}")
    magic, op, password, length = _HEADER.unpack_from(raw)
    payload = raw[_HEADER.size :]
    if magic != MAGIC or len(payload) != length:
        raise ProtocolError(f"GA/T 947 request malformed: {raw!r}")
    return op, password, payload


def encode_answer(status: Status, payload: bytes = b"") -> bytes:
    return _ANSWER_HEADER.pack(MAGIC, status, len(payload)) + payload


def decode_answer(raw: bytes, what: str) -> bytes:
    """The payload of an OK answer. Raises ProtocolError for a refusal or a malformed one."""
    if len(raw) < _ANSWER_HEADER.size:
        raise ProtocolError(f"{what}: answer too short: {raw!r}")
    magic, status, length = _ANSWER_HEADER.unpack_from(raw)
    payload = raw[_ANSWER_HEADER.size :]
    if magic != MAGIC or len(payload) != length:
        raise ProtocolError(f"{what}: malformed answer {raw!r}")
    if status == Status.BAD_PASSWORD:
        raise ProtocolError(f"{what}: the camera refused the password; set the unit's password")
    if status != Status.OK:
        raise ProtocolError(f"{what}: the camera refused ({Status(status).name})")
    return payload


class EmulatedGat947Sdk(Gat947Sdk):
    """The SDK calls sent as frames over the emulated camera's bulk endpoints."""

    def __init__(self, channel: UsbBulkChannel) -> None:
        self._channel = channel

    def get_id_code(self) -> bytes:
        code = self._call(Op.GET_ID_CODE, DEFAULT_PASSWORD)  # needs no password
        if len(code) != 5:
            raise ProtocolError(f"{self._channel.what}: ID code of {len(code)} bytes, not 5")
        return code

    def get_zfy_info(self, password: str) -> ZfyInfo:
        return ZfyInfo.from_bytes(self._call(Op.GET_ZFY_INFO, password))

    def write_zfy_info(self, info: ZfyInfo, password: str) -> None:
        self._call(Op.WRITE_ZFY_INFO, password, info.to_bytes())

    def sync_dev_time(self, local_time: datetime, password: str) -> None:
        self._call(Op.SYNC_DEV_TIME, password, local_time.strftime(_TIME_FORMAT).encode())

    def set_msdc(self, password: str) -> None:
        self._call(Op.SET_MSDC, password)

    def read_device_battery_dump_energy(self, password: str) -> int:
        answer = self._call(Op.READ_BATTERY, password)
        if len(answer) != 1 or answer[0] > 100:
            raise ProtocolError(f"{self._channel.what}: battery answer {answer!r}")
        return answer[0]

    def read_dev_time(self, password: str) -> datetime:
        answer = self._call(Op.READ_DEV_TIME, password)
        try:
            return datetime.strptime(answer.decode("ascii"), _TIME_FORMAT)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(f"{self._channel.what}: unreadable clock {answer!r}") from exc

    def close(self) -> None:
        self._channel.close()

    def _call(self, op: Op, password: str, payload: bytes = b"") -> bytes:
        self._channel.write(encode_request(op, password, payload))
        return decode_answer(self._channel.read(512), f"{self._channel.what}: {op.name}")


class EmulatedGat947Adapter(Gat947Adapter):
    name = "gat947-emulated"
    usb_ids = frozenset({(VID, PID)})

    @classmethod
    def open(cls, device: usb.core.Device, options: AdapterOptions) -> Self:
        channel = UsbBulkChannel(
            device,
            out_ep=OUT_EP,
            in_ep=IN_EP,
            timeout_ms=options.timeout_ms,
            what=f"GA/T 947 camera {device.idVendor:04x}:{device.idProduct:04x}",
        )
        return cls(
            EmulatedGat947Sdk(channel), password=options.password(cls.name, DEFAULT_PASSWORD)
        )
