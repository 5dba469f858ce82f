"""The file document store: bytes by key under one root, written atomically, never outside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rma.adapters.documents import FileDocumentStore


@pytest.fixture
def store(tmp_path: Path) -> FileDocumentStore:
    return FileDocumentStore(tmp_path / "documents")


def files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_a_document_put_is_got_back(store: FileDocumentStore) -> None:
    store.put("labels/0192-abc.pdf", b"%PDF-1.4 label")
    assert store.get("labels/0192-abc.pdf") == b"%PDF-1.4 label"
    assert (store.root / "labels" / "0192-abc.pdf").read_bytes() == b"%PDF-1.4 label"


def test_nested_directories_are_created_and_empty_content_is_kept(store: FileDocumentStore) -> None:
    store.put("a/b/c/d.zpl", b"")
    assert store.get("a/b/c/d.zpl") == b""


def test_writing_a_key_again_replaces_it(store: FileDocumentStore) -> None:
    store.put("slips/1.pdf", b"first")
    store.put("slips/1.pdf", b"second, longer than the first")
    store.put("slips/1.pdf", b"third")
    assert store.get("slips/1.pdf") == b"third"


def test_a_missing_key_is_none(store: FileDocumentStore) -> None:
    assert store.get("labels/missing.pdf") is None  # the root itself does not exist yet
    store.put("labels/present.pdf", b"x")
    assert store.get("labels/missing.pdf") is None
    assert store.get("labels") is None  # a directory is not a document
    assert store.get("labels/present.pdf/below") is None


def test_no_temporary_file_is_left_behind(store: FileDocumentStore) -> None:
    for i in range(20):
        store.put(f"labels/{i % 3}.png", bytes([i]) * 1000)
    assert files(store.root) == ["labels/0.png", "labels/1.png", "labels/2.png"]


def test_a_failed_write_leaves_the_old_document_and_no_temporary_file(
    store: FileDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("labels/1.pdf", b"old")

    def failing_fsync(_fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put("labels/1.pdf", b"new")
    monkeypatch.undo()
    assert store.get("labels/1.pdf") == b"old"
    assert files(store.root) == ["labels/1.pdf"]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside.pdf",
        "labels/../../outside.pdf",
        "labels/..",
        "..",
        "labels\\1.pdf",
        "..\\outside.pdf",
        "labels//1.pdf",
        "labels/",
        "./labels/1.pdf",
        "labels/./1.pdf",
        "labels/\0.pdf",
    ],
)
def test_keys_that_could_escape_the_root_are_refused(store: FileDocumentStore, key: str) -> None:
    with pytest.raises(ValueError, match="document key"):
        store.put(key, b"x")
    with pytest.raises(ValueError, match="document key"):
        store.get(key)
    assert not (store.root.parent / "outside.pdf").exists()


def test_a_symlink_out_of_the_root_is_not_followed(store: FileDocumentStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store.root.mkdir()
    (store.root / "labels").symlink_to(outside)
    with pytest.raises(ValueError, match="outside the store"):
        store.put("labels/1.pdf", b"x")
    assert list(outside.iterdir()) == []
