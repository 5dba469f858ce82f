"""Documents as files under one directory, by key ("labels/<return id>.pdf")."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _fsync_directory(path: Path) -> None:
    # The rename is durable only once the directory entry is; Windows cannot open a directory, and needs no fsync.
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class FileDocumentStore:
    """Implements `rma.ports.documents.DocumentStore` on a local (or mounted) file system.

    A write goes to a temporary file in the same directory, is flushed to disk and then renamed over the key, so a
    reader sees the old document or the new one, never part of one, even after a crash.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        """The file for `key`, or ValueError for a key that is not a plain relative path inside the root."""
        segments = key.split("/")
        if (
            not key
            or "\\" in key
            or "\0" in key
            or key.startswith("/")
            or any(segment in {"", ".", ".."} for segment in segments)
        ):
            raise ValueError(f"document key {key!r} must be a relative path of non-empty segments, without . or ..")
        path = self.root.joinpath(*segments)
        # Belt and braces: a symlink inside the root must not lead outside it either.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"document key {key!r} leads outside the store")
        return path

    def put(self, key: str, content: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            Path(temporary).replace(path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                Path(temporary).unlink()
            raise
        _fsync_directory(path.parent)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
