"""Simulated and emulated devices for the demo, the tests and the benchmarks: an emulated
pyusb backend, emulated cameras behind it, and camera volumes with generated footage.
Nothing in the station's own packages imports this."""
