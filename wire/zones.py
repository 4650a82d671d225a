"""Time zone of device times written without one (file names, FAT times, most container
stamps), unless STATION_DEVICE_ZONE says otherwise."""

from typing import Literal
from zoneinfo import ZoneInfo

DEVICE_ZONE = ZoneInfo("Asia/Shanghai")
SHOWN_ZONE = ZoneInfo("Asia/Shanghai")
"""Times are stored in UTC and shown to people in this zone."""

TimeSource = Literal["container", "file_name", "file_mtime"]
"""Which of a file's times its recorded start comes from."""
