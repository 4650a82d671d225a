"""Errors of the catalogue (the database side of storage)."""

from storage.errors import StorageError


class CatalogueError(StorageError):
    """The catalogue refused or failed an operation; the message says which and why."""


class SchemaNotCurrent(CatalogueError):
    """The database has no schema, or an older one: run `station db upgrade`."""


class DuplicateConflict(CatalogueError):
    """A medium with this SHA-256 is registered already, with different bytes-level facts."""


class InvalidCursor(CatalogueError):
    """A paging cursor that this catalogue did not hand out (or that was altered)."""
