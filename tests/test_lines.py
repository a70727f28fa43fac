"""The one incremental line reader (observe/lines.py): identity, truncation, rewrite, partial and
oversize lines, start at the end, drain on rotation; never a hang on a FIFO, never a raise."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.observe.lines import LineTail, Oversize


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def test_only_complete_new_lines_are_handed_out(tmp_path: Path) -> None:
    path = tmp_path / "f"
    tail = LineTail(path)
    assert tail.read().missing
    _append(path, b"a\nb\npar")
    batch = tail.read()
    assert batch.lines == [b"a", b"b"] and batch.partial == b"par"
    _append(path, b"tial\n")
    assert tail.read().lines == [b"partial"]
    assert tail.read().lines == []


def test_a_replaced_file_is_read_again_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "f"
    tail = LineTail(path, keep_open=True)
    _append(path, b"one\ntwo\n")
    tail.read()
    (tmp_path / "g").write_bytes(b"new\n")
    os.replace(tmp_path / "g", path)
    batch = tail.read()
    assert batch.reset and batch.lines == [b"new"]


def test_truncation_and_a_rewrite_in_place_are_noticed(tmp_path: Path) -> None:
    path = tmp_path / "f"
    tail = LineTail(path)
    path.write_bytes(b"aaaa\nbbbb\n")
    tail.read()
    path.write_bytes(b"x\n")  # truncated below our offset
    batch = tail.read()
    assert batch.reset and batch.lines == [b"x"]
    path.write_bytes(b"y\nzzzzzzzzzz\n")  # same inode, longer, different bytes before our offset
    batch = tail.read()
    assert batch.reset and batch.lines == [b"y", b"zzzzzzzzzz"]


def test_an_oversize_line_is_counted_once_and_never_held(tmp_path: Path) -> None:
    path = tmp_path / "f"
    tail = LineTail(path, max_line_bytes=10, chunk_bytes=4)
    _append(path, b"ok\n" + b"x" * 25)
    first = tail.read()
    assert first.lines[0] == b"ok" and isinstance(first.lines[1], Oversize) and first.partial == b""
    _append(path, b"x" * 25 + b"\nnext\n")
    assert tail.read().lines == [b"next"]


def test_salvage_keeps_the_end_of_an_oversize_line(tmp_path: Path) -> None:
    path = tmp_path / "f"
    tail = LineTail(path, max_line_bytes=10, salvage_bytes=5, chunk_bytes=4)
    _append(path, b"y" * 30 + b'END"}\n')
    [line] = tail.read().lines
    assert isinstance(line, Oversize) and line.tail == b'END"}' and line.size == 35


def test_start_at_end_skips_history_and_the_partial_first_line(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old1\nold2\nold3\n")
    assert LineTail(path, start="end").read().lines == []
    assert LineTail(path, start="end", tail_bytes=7).read().lines == [b"old3"]  # "d2\n" skipped quietly


def test_a_log_that_appears_later_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "f"
    tail = LineTail(path, start="end")
    tail.read()
    path.write_bytes(b"first\n")
    assert tail.read().lines == [b"first"]


def test_a_rotated_log_is_drained_then_followed_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"history\n")
    tail = LineTail(path, start="end", replaced="drain")
    tail.read()
    _append(path, b"late\n")
    os.rename(path, tmp_path / "f.1")
    assert tail.read().lines == [b"late"]  # renamed away, the new one not there yet
    _append(tmp_path / "f.1", b"later\n")
    path.write_bytes(b"fresh\n")
    assert tail.read().lines == [b"later", b"fresh"]


def test_a_fifo_or_directory_is_an_error_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    assert "not a regular file" in (LineTail(tmp_path / "fifo").read().error or "")
    assert LineTail(tmp_path / "dir").read().error


def test_nofollow_refuses_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"a\n")
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert LineTail(tmp_path / "link").read().lines == [b"a"]
    assert LineTail(tmp_path / "link", nofollow=True).read().error


def test_a_read_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x\n" * 1000)
    tail = LineTail(path, max_read_bytes=100, chunk_bytes=64)
    assert len(tail.read().lines) == 50
    assert len(tail.read().lines) == 50


# --- the model: whatever is appended, the lines handed out are the file's complete lines ---------------


@settings(max_examples=120, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40) | st.sampled_from([b"\n", b"\r\n", b"x" * 30, b"\xff\xfe\n"]),
                       max_size=15),
       max_line=st.integers(1, 32), chunk=st.integers(1, 64), keep_open=st.booleans())
def test_appends_are_read_exactly_once_whatever_their_shape(chunks: list[bytes], max_line: int, chunk: int,
                                                             keep_open: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(b"")
        tail = LineTail(path, max_line_bytes=max_line, chunk_bytes=chunk, keep_open=keep_open)
        got: list[bytes | Oversize] = []
        for data in chunks:
            _append(path, data)
            batch = tail.read()
            assert not batch.reset and batch.error is None
            got.extend(batch.lines)
        _append(path, b"\n")
        got.extend(tail.read().lines)
        tail.close()
        expected = (b"".join(chunks) + b"\n").split(b"\n")[:-1]
        assert [g for g in got if isinstance(g, bytes)] == [line for line in expected if len(line) <= max_line]
        assert sum(isinstance(g, Oversize) for g in got) == sum(len(line) > max_line for line in expected)
