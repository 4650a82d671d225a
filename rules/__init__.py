"""Pure rule modules shared by the api and the station, with no I/O."""
