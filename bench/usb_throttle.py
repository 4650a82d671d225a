"""A camera at USB speed for the benches: ext4 images on loop devices, mounted read-only,
read through a cgroup v1 blkio throttle (`blkio.throttle.read_bps_device`).

Needs root, a mounted cgroup v1 blkio hierarchy, loop devices and e2fsprogs; `unavailable()`
says which is missing. Everything set up here is undone by the ExitStack (or context
manager) it was registered with: umount, `losetup -d`, rmdir of the cgroup.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CGROUP_PREFIX = "evidence-usb-bench-"
# The measured process moves itself into the cgroup, then becomes the measured program
# (same pid): it, its threads and its children are throttled, nothing else is.
_ENTER_CGROUP = 'echo $$ > "$0" && exec "$@"'


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while one clean-up step runs (a Ctrl-C in the middle of an
    umount would leave the camera mounted); a signal held is delivered right after."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class ThrottleUnavailable(Exception):
    """The machine cannot throttle a loop device; the message says why."""


@dataclass(frozen=True)
class LoopDevice:
    path: str
    major: int
    minor: int

    @property
    def maj_min(self) -> str:
        return f"{self.major}:{self.minor}"


def blkio_root() -> Path | None:
    """Where the cgroup v1 blkio hierarchy is mounted, if it is."""
    for line in Path("/proc/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == "cgroup" and "blkio" in options.split(","):
            return Path(where)
    return None


def unavailable() -> str | None:
    """Why reads of a loop device cannot be throttled here; None when they can."""
    if os.geteuid() != 0:
        return "not root (loop devices, mounts and cgroups need root)"
    root = blkio_root()
    if root is None:
        return "no cgroup v1 blkio hierarchy is mounted (cgroup v2 only?)"
    if not (root / "blkio.throttle.read_bps_device").exists():
        return f"{root} has no blkio.throttle.read_bps_device (kernel without blk-throttle)"
    for tool in ("losetup", "mount", "umount", "mkfs.ext4"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux / e2fsprogs)"
    free = subprocess.run(["losetup", "-f"], capture_output=True, text=True)
    if free.returncode != 0:
        return f"no free loop device: {free.stderr.strip() or 'losetup -f failed'}"
    return None


def build_image(source: Path, image: Path, label: str) -> None:
    """An ext4 image holding the tree `source`, made without mounting it (`mkfs.ext4 -d`).
    No journal and no reserved blocks: a camera's card has neither."""
    files = [p for p in source.rglob("*") if p.is_file()]
    size = int(sum(p.stat().st_size for p in files) * 1.05) + 16 * 2**20
    part = image.with_name(image.name + ".part")
    part.unlink(missing_ok=True)
    with part.open("wb") as f:
        f.truncate(size)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-m", "0", "-T", "largefile"]
        + ["-L", label[:16], "-d", str(source), str(part)],
        check=True,
    )
    part.rename(image)


def attach(stack: contextlib.ExitStack, image: Path) -> LoopDevice:
    """`losetup -f --show -r image`; detached when `stack` closes."""
    out = subprocess.run(
        ["losetup", "-f", "--show", "-r", str(image)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise ThrottleUnavailable(f"losetup of {image} failed: {out.stderr.strip()}")
    path = out.stdout.strip()
    stack.callback(_detach, path)
    rdev = os.stat(path).st_rdev
    return LoopDevice(path, os.major(rdev), os.minor(rdev))


def _detach(path: str) -> None:
    # A device still busy (a lazy umount) is set to autoclear: detached once released.
    with _uninterrupted():
        out = subprocess.run(["losetup", "-d", path], capture_output=True, text=True)
    if out.returncode != 0 and "No such device" not in out.stderr:  # already auto-cleared
        print(f"warning: {out.stderr.strip()}")


def mount_ro(stack: contextlib.ExitStack, device: LoopDevice, mountpoint: Path) -> None:
    """Mount `device` read-only on `mountpoint` (made if missing); unmounted when `stack`
    closes, after whatever was registered later (the processes reading it) has stopped."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "ext4", "-o", "ro", device.path, str(mountpoint)], check=True)
    stack.callback(umount, mountpoint)


def umount(mountpoint: Path) -> None:
    """Unmount, retrying while busy for a few seconds, then lazily (never left mounted)."""
    with _uninterrupted():
        _umount(mountpoint)


def _umount(mountpoint: Path) -> None:
    for _ in range(25):
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode == 0:
            return
        if not is_mounted(mountpoint):
            return
        time.sleep(0.2)
    print(f"warning: {mountpoint} stayed busy; unmounted lazily")
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def is_mounted(path: Path) -> bool:
    target = str(path.resolve())
    return any(line.split()[1] == target for line in Path("/proc/mounts").read_text().splitlines())


def mounted_under(folder: Path) -> list[str]:
    prefix = str(folder.resolve()) + "/"
    lines = Path("/proc/mounts").read_text().splitlines()
    return [line.split()[1] for line in lines if line.split()[1].startswith(prefix)]


class ReadThrottle:
    """A cgroup v1 blkio cgroup that caps reads of chosen devices; `wrap(argv)` runs a
    program inside it. Removed on exit (its processes must have ended by then)."""

    def __init__(self, name: str) -> None:
        root = blkio_root()
        if root is None:
            raise ThrottleUnavailable("no cgroup v1 blkio hierarchy is mounted")
        self.path = root / f"{CGROUP_PREFIX}{name}"

    def __enter__(self) -> ReadThrottle:
        try:
            self.path.mkdir()
        except OSError as exc:
            raise ThrottleUnavailable(f"cannot create the cgroup {self.path}: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        _remove_cgroup(self.path)

    def limit(self, device: LoopDevice, bytes_per_s: int) -> None:
        try:
            (self.path / "blkio.throttle.read_bps_device").write_text(
                f"{device.maj_min} {bytes_per_s}\n"
            )
        except OSError as exc:
            raise ThrottleUnavailable(
                f"the kernel refused a read limit on {device.path} ({device.maj_min}): {exc}"
            ) from exc

    def wrap(self, argv: list[str]) -> list[str]:
        return ["sh", "-c", _ENTER_CGROUP, str(self.path / "cgroup.procs"), *argv]


def _remove_cgroup(path: Path) -> None:
    with _uninterrupted():
        _rmdir_when_empty(path)


def _rmdir_when_empty(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)  # its last process is still exiting
    print(f"warning: could not remove the cgroup {path}: processes still in it")


def clear_stale(images: list[Path], scratch: Path) -> None:
    """Undo what an earlier run killed without clean-up left behind: mounts and loop devices
    of these images, then this bench's scratch folders (`usb-PID-*` in `scratch`) and empty
    cgroups whose run is gone."""
    for image in images:
        if not image.exists():
            continue
        listed = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True)
        for line in listed.stdout.splitlines():
            device = line.split(":", 1)[0]
            for mount in Path("/proc/mounts").read_text().splitlines():
                if mount.split()[0] == device:
                    umount(Path(mount.split()[1]))
            print(f"detaching {device}, left attached to {image} by an earlier run")
            _detach(device)
    for folder in scratch.glob("usb-*-*"):
        if _run_alive(folder.name.split("-")[1]) or mounted_under(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
    root = blkio_root()
    if root is None:
        return
    for cgroup in root.glob(CGROUP_PREFIX + "*"):
        if _run_alive(cgroup.name.removeprefix(CGROUP_PREFIX).split("-", 1)[0]):
            continue
        if not (cgroup / "cgroup.procs").read_text().strip():
            with contextlib.suppress(OSError):
                cgroup.rmdir()


def _run_alive(pid: str) -> bool:
    """Whether the bench run named by `pid` may still be going (unparsable: assume so)."""
    return not pid.isdigit() or Path(f"/proc/{pid}").exists()
