"""Relating a mounted volume to its USB device through mountinfo and a sysfs tree.

There is no /sys/bus/usb here: the tree is built in tmp_path with the real layout (relative
symlinks from /sys/dev/block and /sys/class/block into /sys/devices).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devices.sysfs import find_mount, parse_mountinfo_line, volume_usb_serial
from devices.usb_enum import UsbIdentity

_PCI = "devices/pci0000:00/0000:00:14.0"


def _escape(path: Path) -> str:
    return str(path).replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")


class FakeSysfs:
    """A sysfs tree and a mountinfo file, as Linux shows a USB disk with its volume mounted."""

    def __init__(self, base: Path) -> None:
        self.root = base / "sys"
        self.mountinfo = base / "mountinfo"
        self._lines = ["22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw"]
        self._mount_id = 100
        self._write_mountinfo()
        hub = self.root / _PCI / "usb1"
        hub.mkdir(parents=True)
        self._attrs(hub, idVendor="1d6b", idProduct="0002", busnum="1", devnum="1")
        for d in ("class/block", "dev/block", "block"):
            (self.root / d).mkdir(parents=True)

    def add_usb_disk(
        self,
        usb_identity: UsbIdentity,
        *,
        name: str = "sdb",
        major: int = 8,
        minor: int = 16,
        port: str = "1-2",
        scsi_host: int = 6,
    ) -> tuple[str, str]:
        """A USB mass-storage disk with one partition; returns (disk, partition) major:minor."""
        usb_dir = self.root / _PCI / "usb1" / port
        attrs = {
            "idVendor": f"{usb_identity.vid:04x}",
            "idProduct": f"{usb_identity.pid:04x}",
            "busnum": str(usb_identity.bus or 1),
            "devnum": str(usb_identity.address or 5),
            "serial": usb_identity.serial,
            "manufacturer": usb_identity.manufacturer,
            "product": usb_identity.product,
        }
        usb_dir.mkdir(parents=True)
        self._attrs(usb_dir, **attrs)
        interface = usb_dir / f"{port}:1.0"
        scsi = interface / f"host{scsi_host}" / f"target{scsi_host}:0:0" / f"{scsi_host}:0:0:0"
        disk = scsi / "block" / name
        partition = disk / f"{name}1"
        partition.mkdir(parents=True)
        self._attrs(interface, bInterfaceClass="08", bInterfaceSubClass="06")
        (disk / "device").symlink_to(os.path.relpath(scsi, disk))
        self._attrs(disk, dev=f"{major}:{minor}")
        self._attrs(partition, dev=f"{major}:{minor + 1}", partition="1")
        self._link_block(disk, name, f"{major}:{minor}")
        self._link_block(partition, f"{name}1", f"{major}:{minor + 1}")
        return f"{major}:{minor}", f"{major}:{minor + 1}"

    def add_virtual_block(self, name: str, major_minor: str) -> None:
        """A block device with no USB parent (loop, virtio)."""
        directory = self.root / "devices" / "virtual" / "block" / name
        directory.mkdir(parents=True)
        self._attrs(directory, dev=major_minor)
        self._link_block(directory, name, major_minor)

    def mount(
        self, major_minor: str, mount_point: Path, source: str, fs_type: str = "vfat"
    ) -> None:
        self._mount_id += 1
        self._lines.append(
            f"{self._mount_id} 22 {major_minor} / {_escape(mount_point)} rw,nosuid,nodev,relatime "
            f"shared:{self._mount_id} - {fs_type} {source} rw,uid=1000,gid=1000"
        )
        self._write_mountinfo()

    def _link_block(self, target: Path, name: str, major_minor: str) -> None:
        for link in (self.root / "class/block" / name, self.root / "dev/block" / major_minor):
            link.symlink_to(os.path.relpath(target, link.parent))

    def _write_mountinfo(self) -> None:
        self.mountinfo.write_text("\n".join(self._lines) + "\n")

    @staticmethod
    def _attrs(directory: Path, **values: str | None) -> None:
        for name, value in values.items():
            if value is not None:
                (directory / name).write_text(value + "\n")


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    return FakeSysfs(tmp_path)


CAMERA = UsbIdentity(0x4255, 0x0001, "AMBA0001", "Ambarella", "Recorder", bus=1, address=7)


def _volume(tmp_path: Path, label: str = "ZFY-0001") -> Path:
    volume = tmp_path / "media" / label
    volume.mkdir(parents=True)
    return volume


def test_a_mounted_partition_leads_to_its_usb_device(sysfs: FakeSysfs, tmp_path: Path) -> None:
    _, partition = sysfs.add_usb_disk(CAMERA)
    volume = _volume(tmp_path)
    sysfs.mount(partition, volume, "/dev/sdb1")
    assert volume_usb_serial(volume, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo) == CAMERA


def test_a_whole_disk_mount_and_a_missing_serial(sysfs: FakeSysfs, tmp_path: Path) -> None:
    no_serial = UsbIdentity(0x1209, 0x0002, None, bus=1, address=9)
    disk, _ = sysfs.add_usb_disk(no_serial, name="sdc", minor=32, port="1-3", scsi_host=7)
    volume = _volume(tmp_path)
    sysfs.mount(disk, volume, "/dev/sdc")
    assert volume_usb_serial(volume, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo) == (
        no_serial
    )


def test_the_source_name_serves_when_major_minor_is_unknown(
    sysfs: FakeSysfs, tmp_path: Path
) -> None:
    sysfs.add_usb_disk(CAMERA)
    volume = _volume(tmp_path)
    sysfs.mount("0:99", volume, "/dev/sdb1")  # e.g. a device-mapper or odd driver number
    found = volume_usb_serial(volume, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo)
    assert found is not None and found.serial == "AMBA0001"


def test_mount_points_with_spaces_and_chinese_labels_match(
    sysfs: FakeSysfs, tmp_path: Path
) -> None:
    _, partition = sysfs.add_usb_disk(CAMERA)
    volume = _volume(tmp_path, "执法仪 0001")
    sysfs.mount(partition, volume, "/dev/sdb1")
    assert "\\040" in sysfs.mountinfo.read_text()
    assert volume_usb_serial(volume, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo) == CAMERA


def test_fuse_and_loop_mounts_relate_to_nothing(sysfs: FakeSysfs, tmp_path: Path) -> None:
    sysfs.add_virtual_block("loop0", "7:0")
    exfat, image = _volume(tmp_path, "EXFAT"), _volume(tmp_path, "IMG")
    sysfs.mount("0:52", exfat, "/dev/loop0", fs_type="fuse.exfat-fuse")
    sysfs.mount("7:0", image, "/dev/loop0", fs_type="ext4")
    for volume in (exfat, image):
        assert volume_usb_serial(volume, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo) is None


def test_only_the_mount_point_itself_relates(sysfs: FakeSysfs, tmp_path: Path) -> None:
    _, partition = sysfs.add_usb_disk(CAMERA)
    volume = _volume(tmp_path)
    sysfs.mount(partition, volume, "/dev/sdb1")
    inside = volume / "DCIM"
    inside.mkdir()
    assert volume_usb_serial(inside, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo) is None


def test_the_last_mount_on_a_mount_point_wins(sysfs: FakeSysfs, tmp_path: Path) -> None:
    _, partition = sysfs.add_usb_disk(CAMERA)
    sysfs.add_virtual_block("loop1", "7:1")
    volume = _volume(tmp_path)
    sysfs.mount("7:1", volume, "/dev/loop1", fs_type="ext4")
    sysfs.mount(partition, volume, "/dev/sdb1")  # mounted over it: this is what one sees
    assert volume_usb_serial(volume, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo) == CAMERA


def test_unreadable_mountinfo_or_sysfs_is_no_relation(sysfs: FakeSysfs, tmp_path: Path) -> None:
    volume = _volume(tmp_path)
    assert (
        volume_usb_serial(volume, sysfs_root=sysfs.root, mounts_file=tmp_path / "missing") is None
    )
    sysfs.mount("8:17", volume, "/dev/sdb1")  # mounted, but sysfs has no such device
    assert volume_usb_serial(volume, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo) is None


def test_on_this_machine_a_plain_folder_relates_to_nothing(tmp_path: Path) -> None:
    # The real /proc/self/mountinfo and /sys: a folder that is not a mount point.
    assert volume_usb_serial(tmp_path) is None


def test_mountinfo_lines_parse_with_optional_fields() -> None:
    entry = parse_mountinfo_line(
        b"36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:2 - ext3 /dev/root rw"
    )
    assert entry is not None
    assert (entry.major_minor, entry.mount_point, entry.fs_type, entry.source) == (
        "98:0",
        "/mnt/a b",
        "ext3",
        "/dev/root",
    )
    assert parse_mountinfo_line(b"36 35 98:0 /mnt1") is None


def test_find_mount_resolves_symlinked_mount_points(sysfs: FakeSysfs, tmp_path: Path) -> None:
    volume = _volume(tmp_path)
    sysfs.mount("8:17", volume, "/dev/sdb1")
    alias = tmp_path / "alias"
    alias.symlink_to(volume)
    entry = find_mount(alias, sysfs.mountinfo)
    assert entry is not None and entry.source == "/dev/sdb1"
