"""What the station and the api agree on about recordings (a camera's split segments)."""

GAP_TOLERANCE_S = 1.0
"""A join gap up to this is container timing rounding, not a gap in the recording: the station
joins over it and the api reports only longer gaps."""
