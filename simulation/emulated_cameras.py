"""Emulated body cameras for `EmulatedUsbBackend`: what tests and the simulator dock.

- `EmulatedAmbarellaCamera`: the Ambarella ASCII protocol (see `devices.adapters.ambarella`),
  with a device ID, a password, a clock and a mass-storage switch.
- `EmulatedGat947Camera`: a GA/T 947-style camera (ZFY record, ID code, battery, clock,
  SetMSDC) speaking the emulated SDK frames of `simulation.gat947_emulated`.
- `EmulatedMassStorageCamera`: a camera that is only mass storage, with a USB serial.

Clocks: a camera's clock is the station clock (`station_clock`, UTC) plus `clock_offset`,
shown in the cameras' local time (Asia/Shanghai) to whole seconds, as cameras keep it.
The switch to mass storage sets `mass_storage`, adds a mass-storage interface to the
descriptors (the vendor interface stays: these cameras are composite devices) and calls
`on_mass_storage(camera)`, where a test or the simulator "mounts" the camera's volume.
"""

from __future__ import annotations

import errno
import re
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo

import usb.core

from devices.adapters import ambarella
from devices.adapters.gat947 import DEFAULT_PASSWORD as GAT947_DEFAULT_PASSWORD
from devices.adapters.gat947 import ZfyInfo
from devices.adapters.registry import AdapterRegistry, default_registry
from devices.errors import ProtocolError
from devices.usb_enum import CLASS_VENDOR_SPECIFIC
from simulation import gat947_emulated
from simulation.emulated_usb import (
    EmulatedDevice,
    EndpointSpec,
    InterfaceSpec,
    mass_storage_interface,
)
from simulation.gat947_emulated import Op, Status, decode_request, encode_answer
from wire.zones import DEVICE_ZONE

GENERIC_VID, GENERIC_PID = 0x1209, 0x0002  # a VID/PID that no adapter serves
_COMMAND = re.compile(r"^@(?P<name>\w+);(?P<length>\d*);(?P<arg>[^;]*);#$")


def station_now() -> datetime:
    return datetime.now(UTC)


def emulation_registry() -> AdapterRegistry:
    """The default adapters plus the emulated GA/T 947 one (for tests and the simulator)."""
    return default_registry().with_adapters(gat947_emulated.EmulatedGat947Adapter)


class EmulatedCamera(EmulatedDevice):
    """What the emulated cameras share: a clock and a mass-storage switch."""

    def __init__(
        self,
        *,
        vid: int,
        pid: int,
        serial: str | None,
        manufacturer: str,
        product: str,
        interfaces: Iterable[InterfaceSpec],
        clock_offset: timedelta,
        station_clock: Callable[[], datetime],
        on_mass_storage: Callable[[EmulatedCamera], None] | None,
    ) -> None:
        super().__init__(
            vid=vid,
            pid=pid,
            serial=serial,
            manufacturer=manufacturer,
            product=product,
            interfaces=interfaces,
        )
        self.clock_offset = clock_offset
        self.station_clock = station_clock
        self.on_mass_storage = on_mass_storage
        self.mass_storage = False
        self.clock_sets: list[datetime] = []  # every local time the station set, in order
        self.zone: tzinfo = DEVICE_ZONE
        """The zone the camera keeps local time in (set by tests of other zones)."""

    def local_time(self) -> datetime:
        """The camera's clock: naive local time, whole seconds."""
        now = (self.station_clock() + self.clock_offset).astimezone(self.zone)
        return now.replace(tzinfo=None, microsecond=0)

    def set_local_time(self, local: datetime) -> None:
        self.clock_sets.append(local)
        self.clock_offset = local.replace(tzinfo=self.zone) - self.station_clock()

    def switch_to_mass_storage(self) -> None:
        if not self.mass_storage:
            self.mass_storage = True
            self.interfaces += (mass_storage_interface(len(self.interfaces), 0x03, 0x83),)
        if self.on_mass_storage is not None:
            self.on_mass_storage(self)


class EmulatedAmbarellaCamera(EmulatedCamera):
    """An Ambarella-based camera: `@Cmd;LEN;ARG;#` in, `@Cmd;...;#` out.

    `knows_clock=False` makes it refuse the (assumed) `@Gdt` clock read, as cameras
    without that command would. `commands` records every command received.
    """

    def __init__(
        self,
        *,
        device_id: str = "13010000001510000001",
        serial: str | None = "AMBA0001",
        password: str = ambarella.FACTORY_PASSWORD,
        clock_offset: timedelta = timedelta(0),
        station_clock: Callable[[], datetime] = station_now,
        on_mass_storage: Callable[[EmulatedCamera], None] | None = None,
        knows_clock: bool = True,
    ) -> None:
        vendor = InterfaceSpec(
            0,
            CLASS_VENDOR_SPECIFIC,
            endpoints=(EndpointSpec(ambarella.OUT_EP), EndpointSpec(ambarella.IN_EP)),
        )
        super().__init__(
            vid=ambarella.VID,
            pid=ambarella.PID,
            serial=serial,
            manufacturer="Ambarella",
            product="Law Enforcement Recorder",
            interfaces=[vendor],
            clock_offset=clock_offset,
            station_clock=station_clock,
            on_mass_storage=on_mass_storage,
        )
        self.device_id = device_id
        self.password = password
        self.knows_clock = knows_clock
        self.logged_in = False
        self.commands: list[str] = []
        self._answers: deque[bytes] = deque()

    def bulk_out(self, endpoint: int, data: bytes) -> None:
        if endpoint != ambarella.OUT_EP:
            raise usb.core.USBError("Pipe error", errno=errno.EPIPE)
        text = data.decode("ascii", errors="replace")
        self.commands.append(text)
        self._answers.append(self._answer(text).encode("ascii"))

    def bulk_in(self, endpoint: int, size: int) -> bytes | None:
        if endpoint != ambarella.IN_EP:
            raise usb.core.USBError("Pipe error", errno=errno.EPIPE)
        if not self._answers:
            return None
        answer = self._answers.popleft()
        if len(answer) > size:  # the rest comes with the next read, as packets do
            self._answers.appendleft(answer[size:])
        return answer[:size]

    def _answer(self, text: str) -> str:
        match = _COMMAND.match(text)
        if match is None:
            return "@ERR;ERROR;#"
        name, arg = match["name"], match["arg"]
        refused = f"@{name};ERROR;#"
        if name == "Ver":
            self.logged_in = True
            return "@Ver;OK;#"
        if not self.logged_in:
            return refused
        if name == "Gdv":
            return (
                f"@Gdv;{len(self.device_id)};{self.device_id};#"
                if arg == self.password
                else refused
            )
        if name == "Gdt":
            return f"@Gdt;14;{self.local_time():%Y%m%d%H%M%S};#" if self.knows_clock else refused
        if name in ("Sdt", "Stm"):
            try:
                now = self.local_time()
                if name == "Sdt":
                    day = datetime.strptime(arg, "%Y%m%d").date()
                    self.set_local_time(datetime.combine(day, now.time()))
                else:
                    at = datetime.strptime(arg[:6], "%H%M%S").time()
                    self.set_local_time(datetime.combine(now.date(), at))
            except ValueError:
                return refused
            return f"@{name};OK;#"
        if name == "ATH":
            if arg != self.password:
                return refused
            self.switch_to_mass_storage()
            return "@ATH;OK;#"
        return refused


class EmulatedGat947Camera(EmulatedCamera):
    """A GA/T 947-style camera behind the emulated SDK frames."""

    def __init__(
        self,
        *,
        zfy: ZfyInfo | None = None,
        id_code: bytes = b"ZFY01",
        serial: str | None = "GAT9470001",
        password: str = GAT947_DEFAULT_PASSWORD,
        battery_percent: int = 87,
        clock_offset: timedelta = timedelta(0),
        station_clock: Callable[[], datetime] = station_now,
        on_mass_storage: Callable[[EmulatedCamera], None] | None = None,
        knows_clock: bool = True,
    ) -> None:
        vendor = InterfaceSpec(
            0,
            CLASS_VENDOR_SPECIFIC,
            endpoints=(
                EndpointSpec(gat947_emulated.OUT_EP),
                EndpointSpec(gat947_emulated.IN_EP),
            ),
        )
        super().__init__(
            vid=gat947_emulated.VID,
            pid=gat947_emulated.PID,
            serial=serial,
            manufacturer="Emulated ZFY",
            product="GA/T 947 Body Camera",
            interfaces=[vendor],
            clock_offset=clock_offset,
            station_clock=station_clock,
            on_mass_storage=on_mass_storage,
        )
        self.zfy = zfy or ZfyInfo("A000001", "010001", "张三", "130100000000", "石家庄市公安局")
        self.id_code = id_code
        self.password = password
        self.battery_percent = battery_percent
        self.knows_clock = knows_clock
        self.ops: list[Op | int] = []
        self._answers: deque[bytes] = deque()

    def bulk_out(self, endpoint: int, data: bytes) -> None:
        if endpoint != gat947_emulated.OUT_EP:
            raise usb.core.USBError("Pipe error", errno=errno.EPIPE)
        self._answers.append(self._answer(data))

    def bulk_in(self, endpoint: int, size: int) -> bytes | None:
        if endpoint != gat947_emulated.IN_EP:
            raise usb.core.USBError("Pipe error", errno=errno.EPIPE)
        return self._answers.popleft()[:size] if self._answers else None

    def _answer(self, data: bytes) -> bytes:
        try:
            raw_op, password, payload = decode_request(data)
        except ProtocolError:
            return encode_answer(Status.BAD_REQUEST)
        try:
            op = Op(raw_op)
        except ValueError:
            self.ops.append(raw_op)
            return encode_answer(Status.UNKNOWN_OP)
        self.ops.append(op)
        if op == Op.GET_ID_CODE:  # needs no password
            return encode_answer(Status.OK, self.id_code)
        if password != self.password.encode("ascii"):
            return encode_answer(Status.BAD_PASSWORD)
        try:
            return encode_answer(Status.OK, self._do(op, payload))
        except ValueError:
            return encode_answer(Status.BAD_REQUEST)

    def _do(self, op: Op, payload: bytes) -> bytes:
        if op == Op.GET_ZFY_INFO:
            return self.zfy.to_bytes()
        if op == Op.WRITE_ZFY_INFO:
            try:
                self.zfy = ZfyInfo.from_bytes(payload)
            except ProtocolError as exc:
                raise ValueError(str(exc)) from exc
        elif op == Op.SYNC_DEV_TIME:
            self.set_local_time(datetime.strptime(payload.decode("ascii"), "%Y%m%d%H%M%S"))
        elif op == Op.SET_MSDC:
            self.switch_to_mass_storage()
        elif op == Op.READ_BATTERY:
            return bytes([self.battery_percent])
        elif op == Op.READ_DEV_TIME:
            if not self.knows_clock:
                raise ValueError("no clock read")
            return f"{self.local_time():%Y%m%d%H%M%S}".encode("ascii")
        return b""


class EmulatedMassStorageCamera(EmulatedDevice):
    """A camera that is plain USB mass storage: nothing to say but its USB serial."""

    def __init__(
        self,
        *,
        serial: str | None = "MSC0001",
        vid: int = GENERIC_VID,
        pid: int = GENERIC_PID,
        manufacturer: str | None = "Generic",
        product: str | None = "Body Camera Storage",
    ) -> None:
        super().__init__(
            vid=vid,
            pid=pid,
            serial=serial,
            manufacturer=manufacturer,
            product=product,
            interfaces=[mass_storage_interface(0, 0x01, 0x81)],
        )
        self.mass_storage = True
