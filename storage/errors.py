"""Errors of the storage layer; third-party errors are translated here at the border."""


class StorageError(Exception):
    """The object store or catalogue failed; the message says which object and what to do."""


class ObjectNotFound(StorageError):
    """No object under that key."""


class StoredObjectMismatch(StorageError):
    """The store holds bytes under a key that do not hash to what was sent: never registered."""
