"""Which files some process on this machine has open for writing (Linux /proc).

A recorder exporting to a folder writes a file for as long as an interview lasts; the
station must not take it before the recorder closed it.
"""

from __future__ import annotations

import os
from pathlib import Path

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR


def open_for_writing(candidates: set[Path], *, proc: Path = Path("/proc")) -> set[Path]:
    """The subset of `candidates` (absolute, resolved paths) open for writing right now.

    Processes we may not inspect are skipped: a recorder writing over the network (SMB, NFS)
    is invisible here, which is why callers also wait for a file to stop growing.
    """
    wanted = {str(p) for p in candidates}
    busy: set[Path] = set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        fd_dir = proc / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd_dir / fd)
            except OSError:
                continue
            if target not in wanted:
                continue
            try:
                flags_line = (proc / pid / "fdinfo" / fd).read_text().split("\n")[1]
                flags = int(flags_line.split()[1], 8)
            except (OSError, IndexError, ValueError):
                busy.add(Path(target))  # cannot tell: assume it is being written
                continue
            if flags & _WRITE_FLAGS:
                busy.add(Path(target))
    return busy
