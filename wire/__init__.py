"""What the station and the api agree on, without I/O: the registration record a station sends
(`registration`), the kinds of media (`media_kinds`), and the device time zone default
(`zones`). `ingest`, `storage`, `station` and `api` import it; it imports none of them."""
