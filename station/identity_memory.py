"""What the station remembers of cameras between docks: which camera IDs it has seen behind
a USB identity, so a camera that does not answer one day is still keyed by its own ID, and a
USB serial that several cameras share is known to name none of them for sure."""

from __future__ import annotations

from dataclasses import replace

from devices.identify import DockIdentity
from station.journal import Journal


def recall(identity: DockIdentity, journal: Journal) -> DockIdentity:
    """`identity` completed from (and recorded into) the station's memory of cameras.

    A camera that told its ID is remembered behind its USB identity. A device known only by
    its USB serial takes the one camera ID seen behind that serial; when several cameras
    were seen behind it, the identity is marked ambiguous (never wiped at this dock).
    """
    if identity.usb_serial is None or identity.vid is None or identity.pid is None:
        return identity
    usb = (identity.vid, identity.pid, identity.usb_serial)
    if identity.how == "usb_adapter" and identity.device_id:
        journal.remember_camera(*usb, identity.device_id)
        return identity
    if identity.how != "usb_serial":
        return identity
    cameras = journal.cameras_behind(*usb)
    if len(cameras) == 1:
        return replace(identity, device_serial=cameras[0])
    if cameras:
        return replace(
            identity,
            ambiguous=f"USB serial {identity.usb_serial} is shared by cameras "
            f"{', '.join(cameras)}, and the camera did not tell its own ID",
        )
    return identity
