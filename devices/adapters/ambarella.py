"""Ambarella-based body cameras: ASCII commands over two bulk endpoints.

The camera (USB 4255:0001) shows no volume until the station logs in and sends the
mass-storage switch. Commands and answers are ASCII, `@Name;LEN;ARG;#`:

| command              | meaning                               | answer (as seen in vendor code) |
|----------------------|---------------------------------------|---------------------------------|
| `@Ver;8;00000000;#`  | log in                                | `@Ver;OK;#`                     |
| `@Gdv;8;PASSWORD;#`  | device ID                             | `@Gdv;LEN;ID;#`                 |
| `@Sdt;8;yyyyMMdd;#`  | set the date                          | `@Sdt;OK;#`                     |
| `@Stm;6;HHmmss00;#`  | set the time (LEN is 6 for 8 chars)   | `@Stm;OK;#`                     |
| `@ATH;8;PASSWORD;#`  | switch to mass storage                | `@ATH;OK;#`                     |
| `@Gdt;8;00000000;#`  | read the clock (see `read_clock`)     | `@Gdt;14;yyyyMMddHHmmss;#`      |

A refusal (wrong password, not logged in, unknown command) carries `ERROR` in the answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self

import usb.core

from devices.adapters.base import (
    AdapterOptions,
    CameraAdapter,
    CameraInfo,
    UsbBulkChannel,
    offers_mass_storage,
)
from devices.errors import ProtocolError

VID, PID = 0x4255, 0x0001
OUT_EP, IN_EP = 0x01, 0x81
FACTORY_PASSWORD = "12345678"
LOGIN_CODE = "00000000"
_ANSWER_BUFFER = 64  # vendor tools read answers into 64 bytes
_MAX_READS = 4


def command(name: str, argument: str, length: int | None = None) -> bytes:
    """One command as sent: `@Name;LEN;ARG;#`. LEN is the argument's length unless the
    vendor fixed another value (`Stm` sends 6 for its 8-character argument)."""
    if not (argument.isascii() and argument.isprintable()) or any(c in argument for c in ";#@"):
        raise ValueError(f"Ambarella {name}: argument {argument!r} is not plain ASCII")
    return f"@{name};{len(argument) if length is None else length};{argument};#".encode("ascii")


def parse_answer(raw: bytes, name: str) -> list[str]:
    """The fields after the name of an answer to command `name` (`@Gdv;20;ID;#` gives
    `["20", "ID"]`). Raises ProtocolError when it is not an answer to `name`, or a refusal."""
    try:
        text = raw.rstrip(b"\x00").decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"Ambarella {name}: answer is not ASCII: {raw!r}") from exc
    if not (text.startswith("@") and text.endswith("#")):
        raise ProtocolError(f"Ambarella {name}: malformed answer {text!r}")
    fields = text[1:-1].split(";")
    while fields and fields[-1] == "":
        fields.pop()
    if not fields or fields[0] != name:
        raise ProtocolError(f"Ambarella {name}: answer to another command: {text!r}")
    if any(f.upper() == "ERROR" for f in fields[1:]):
        raise ProtocolError(f"Ambarella {name}: the camera refused ({text!r})")
    return fields[1:]


class AmbarellaAdapter(CameraAdapter):
    """An Ambarella-based camera. `open` logs in; the password (factory `12345678`) is the
    unit's, from `AdapterOptions.passwords["ambarella"]`."""

    name = "ambarella"
    usb_ids = frozenset({(VID, PID)})

    def __init__(self, channel: UsbBulkChannel, password: str) -> None:
        self._channel = channel
        self._password = password

    @classmethod
    def open(cls, device: usb.core.Device, options: AdapterOptions) -> Self:
        channel = UsbBulkChannel(
            device,
            out_ep=OUT_EP,
            in_ep=IN_EP,
            timeout_ms=options.timeout_ms,
            what=f"Ambarella camera {device.idVendor:04x}:{device.idProduct:04x}",
        )
        adapter = cls(channel, options.password(cls.name, FACTORY_PASSWORD))
        try:
            adapter.login()
        except BaseException:
            adapter.close()
            raise
        return adapter

    @classmethod
    def needs_preparation(cls, device: usb.core.Device) -> bool:
        return not offers_mass_storage(device)

    def login(self) -> None:
        self._expect_ok("Ver", LOGIN_CODE)

    def read_device_id(self) -> str:
        fields = self._ask("Gdv", self._password)
        device_id = fields[-1].strip() if fields else ""
        if len(fields) < 2 or not device_id:
            raise ProtocolError(f"{self._channel.what}: no device ID in the answer {fields!r}")
        return device_id

    def read_info(self) -> CameraInfo:
        return CameraInfo(device_id=self.read_device_id())

    def read_clock(self) -> datetime:
        """The camera's local time, by `@Gdt;8;00000000;#` answered `@Gdt;14;yyyyMMddHHmmss;#`.

        The command name and answer format are our assumption (the emulated camera answers
        them); vendors differ. A camera that does not know it refuses, or does not answer:
        then the dock has no clock offset.
        """
        fields = self._ask("Gdt", LOGIN_CODE)
        try:
            return datetime.strptime(fields[-1], "%Y%m%d%H%M%S")
        except (IndexError, ValueError) as exc:
            raise ProtocolError(f"{self._channel.what}: unreadable clock {fields!r}") from exc

    def set_clock(self, local_time: datetime) -> None:
        # Date and time come from one instant, so a set across midnight cannot mix two days.
        self._expect_ok("Sdt", f"{local_time:%Y%m%d}")
        self._expect_ok("Stm", f"{local_time:%H%M%S}00", length=6)

    def switch_to_mass_storage(self) -> None:
        self._expect_ok("ATH", self._password)

    def close(self) -> None:
        self._channel.close()

    def _expect_ok(self, name: str, argument: str, length: int | None = None) -> None:
        fields = self._ask(name, argument, length)
        if not fields or fields[0].upper() != "OK":
            raise ProtocolError(f"{self._channel.what}: {name} not acknowledged: {fields!r}")

    def _ask(self, name: str, argument: str, length: int | None = None) -> list[str]:
        self._channel.write(command(name, argument, length))
        answer = b""
        for _ in range(_MAX_READS):  # an answer may come in several packets
            answer += self._channel.read(_ANSWER_BUFFER)
            if answer.rstrip(b"\x00").strip().endswith(b"#"):
                return parse_answer(answer, name)
        raise ProtocolError(f"{self._channel.what}: {name} answer never ends: {answer!r}")
