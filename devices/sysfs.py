"""Which USB device is behind a mounted volume, where Linux's sysfs says so.

mount point -> block device (/proc/self/mountinfo: major:minor and source) -> its sysfs
directory (/sys/dev/block/MAJ:MIN or /sys/class/block/NAME, symlinks into /sys/devices) ->
up the device tree to the USB device directory, the first one holding `idVendor` and
`idProduct` (the interface directory below it, `1-1:1.0`, does not).

FUSE mounts (exFAT, MTP), loop devices, network and virtual file systems have no USB parent:
then the answer is None and the volume is identified by its folder name.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from devices.usb_enum import UsbIdentity

log = logging.getLogger(__name__)

_OCTAL_ESCAPE = re.compile(rb"\\([0-7]{3})")


@dataclass(frozen=True)
class MountEntry:
    """One line of /proc/self/mountinfo, the parts we use."""

    major_minor: str
    mount_point: str
    fs_type: str
    source: str


def volume_usb_serial(
    mount_point: Path,
    *,
    sysfs_root: Path = Path("/sys"),
    mounts_file: Path = Path("/proc/self/mountinfo"),
) -> UsbIdentity | None:
    """The USB device (VID, PID, serial, ...) behind the volume mounted at `mount_point`,
    or None when `mount_point` is not a mount point or nothing relates it to a USB device.

    Never raises: an unreadable mountinfo or sysfs counts as "nothing relates".
    """
    try:
        entry = find_mount(mount_point, mounts_file)
        if entry is None:
            return None
        block_dir = _block_device_dir(entry, sysfs_root)
        if block_dir is None:
            return None
        usb_dir = _usb_device_dir(block_dir, sysfs_root)
        return _read_usb_identity(usb_dir) if usb_dir is not None else None
    except (OSError, ValueError) as exc:
        log.warning("cannot relate %s to a USB device through sysfs: %s", mount_point, exc)
        return None


def find_mount(mount_point: Path, mounts_file: Path) -> MountEntry | None:
    """The mount at exactly `mount_point` (the last one, as later mounts hide earlier)."""
    wanted = os.fsdecode(os.path.realpath(mount_point))
    found = None
    for line in mounts_file.read_bytes().splitlines():
        entry = parse_mountinfo_line(line)
        if entry is not None and entry.mount_point == wanted:
            found = entry
    return found


def parse_mountinfo_line(line: bytes) -> MountEntry | None:
    """Parse one mountinfo line (see proc(5)); None if it is malformed.

    `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
    """
    fields = line.split()
    try:
        separator = fields.index(b"-", 6)
        major_minor, mount_point = fields[2], fields[4]
        fs_type, source = fields[separator + 1], fields[separator + 2]
    except (ValueError, IndexError):
        return None
    return MountEntry(
        major_minor=major_minor.decode("ascii", errors="replace"),
        mount_point=_unescape(mount_point),
        fs_type=_unescape(fs_type),
        source=_unescape(source),
    )


def _unescape(field: bytes) -> str:
    # The kernel writes space, tab, newline and backslash as \040, \011, \012, \134.
    return os.fsdecode(_OCTAL_ESCAPE.sub(lambda m: bytes([int(m[1], 8)]), field))


def _block_device_dir(entry: MountEntry, sysfs_root: Path) -> Path | None:
    candidates = [sysfs_root / "dev" / "block" / entry.major_minor]
    if entry.source.startswith("/dev/"):
        candidates.append(sysfs_root / "class" / "block" / os.path.basename(entry.source))
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    return None


def _usb_device_dir(block_dir: Path, sysfs_root: Path) -> Path | None:
    top = (sysfs_root / "devices").resolve()
    for directory in (block_dir, *block_dir.parents):
        if directory == top or top not in directory.parents:
            return None  # left the device tree without meeting a USB device
        if (directory / "idVendor").is_file() and (directory / "idProduct").is_file():
            return directory
    return None


def _read_usb_identity(usb_dir: Path) -> UsbIdentity:
    def attribute(name: str) -> str | None:
        try:
            value = (usb_dir / name).read_text(errors="replace").strip()
        except FileNotFoundError:
            return None
        return value or None

    def number(name: str) -> int | None:
        value = attribute(name)
        return int(value) if value is not None and value.isdigit() else None

    return UsbIdentity(
        vid=int(attribute("idVendor") or "", 16),
        pid=int(attribute("idProduct") or "", 16),
        serial=attribute("serial"),
        manufacturer=attribute("manufacturer"),
        product=attribute("product"),
        bus=number("busnum"),
        address=number("devnum"),
    )
