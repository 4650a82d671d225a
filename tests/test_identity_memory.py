"""The station remembers which camera IDs it saw behind a USB identity."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.identify import DockIdentity
from station.identity_memory import recall
from station.journal import Journal

AMBA = (0x4255, 0x0001)


def spoken(camera_id: str, usb_serial: str) -> DockIdentity:
    return DockIdentity(
        device_serial=camera_id,
        how="usb_adapter",
        adapter="ambarella",
        device_id=camera_id,
        vid=AMBA[0],
        pid=AMBA[1],
        usb_serial=usb_serial,
    )


def silent(usb_serial: str) -> DockIdentity:
    return DockIdentity(
        device_serial=usb_serial, how="usb_serial", vid=AMBA[0], pid=AMBA[1], usb_serial=usb_serial
    )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as journal:
        yield journal


def test_a_camera_that_does_not_answer_is_keyed_by_the_id_it_told_before(
    journal: Journal,
) -> None:
    assert recall(spoken("13010000001510000001", "AMBA01"), journal).device_serial == (
        "13010000001510000001"
    )
    identity = recall(silent("AMBA01"), journal)
    assert (identity.device_serial, identity.ambiguous) == ("13010000001510000001", None)


def test_a_usb_serial_several_cameras_share_is_ambiguous_without_the_camera(
    journal: Journal,
) -> None:
    for camera_id in ("13010000001510000001", "13010000001510000002"):
        recall(spoken(camera_id, "0001"), journal)
    # Each camera that answers is still itself...
    assert recall(spoken("13010000001510000002", "0001"), journal).ambiguous is None
    # ...but one that does not could be either.
    identity = recall(silent("0001"), journal)
    assert identity.device_serial == "0001"
    assert identity.ambiguous is not None and "13010000001510000002" in identity.ambiguous


def test_a_usb_serial_never_seen_with_a_camera_id_stays_as_it_is(journal: Journal) -> None:
    assert recall(silent("MSC0042"), journal) == silent("MSC0042")
    by_volume = DockIdentity(device_serial="2A1F-0C3D", how="volume_name")
    assert recall(by_volume, journal) == by_volume


def test_the_memory_survives_a_restart(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        recall(spoken("13010000001510000003", "AMBA03"), journal)
    with Journal(tmp_path / "journal.db") as journal:
        assert recall(silent("AMBA03"), journal).device_serial == "13010000001510000003"
