"""A policy file over the size limit is refused without being read (KS010), wherever policies are
read: killswitch.sources is the one reader. The limit is 1 MiB unless the caller gives another;
a file exactly at it is read."""

from __future__ import annotations

import pytest

from killswitch import sources
from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_sources
from killswitch.sources import MAX_FILE_BYTES, compile_read, parse_file_size, read_sources, size_arg
from tests.conftest import POLICIES

MIB = 1024 * 1024
SPOT = (POLICIES / "spot-book.yaml").read_text()


def _policy_of_size(path, size: int) -> None:
    """A valid policy padded with a comment to exactly ``size`` bytes."""
    body = SPOT + "#" * (size - len(SPOT.encode()) - 1) + "\n"
    path.write_text(body)
    assert path.stat().st_size == size


@pytest.mark.parametrize("text,size", [
    ("1MiB", MIB), ("1 MiB", MIB), ("4MiB", 4 * MIB), ("512KiB", 512 * 1024), ("1GiB", 1024 ** 3),
    ("2MB", 2_000_000), ("512KB", 512_000), ("2000", 2000), ("2000B", 2000), ("1_000_000", 1_000_000),
    ("1.5MiB", 3 * MIB // 2), (" 3MiB ", 3 * MIB),
])
def test_a_size_is_bytes_with_an_optional_unit(text, size):
    assert parse_file_size(text) == size


@pytest.mark.parametrize("text", ["1MiBs", "1Mb", "1mib", "1 M", "MiB", "-1MiB", "one", "", "1e6", "1,000", "4 MiB B"])
def test_a_size_that_does_not_parse_is_refused_with_the_forms(text):
    with pytest.raises(ValueError, match="is not a size: write a number of bytes with an optional unit: B, KB"):
        parse_file_size(text)


@pytest.mark.parametrize("text", ["0", "0MiB", "0.4"])
def test_a_limit_below_one_byte_is_refused(text):
    with pytest.raises(ValueError, match="below one byte"):
        parse_file_size(text)


def test_the_default_limit_is_one_mebibyte_as_the_option_writes_it():
    assert MAX_FILE_BYTES == MIB
    assert parse_file_size(size_arg(MAX_FILE_BYTES)) == MAX_FILE_BYTES == parse_file_size("1MiB")


def test_a_file_over_the_default_limit_is_refused_and_one_at_it_is_read(tmp_path):
    _policy_of_size(tmp_path / "over.yaml", MIB + 1)
    _policy_of_size(tmp_path / "at.yaml", MIB)
    src = read_sources([str(tmp_path)])
    assert [f for f, _ in src.files] == [str(tmp_path / "at.yaml")]
    [refused] = src.diagnostics
    assert refused.code == "KS010" and refused.file == str(tmp_path / "over.yaml") and refused.pos is None
    assert refused.message == ("the file is 1,048,577 bytes, over the limit of 1 MiB (1,048,576 bytes); "
                               "it was not read")
    assert "--max-file-size 2MiB" in refused.hint and "KS_MAX_FILE_SIZE=2MiB" in refused.hint
    result = compile_read(src)
    assert [x.code for x in result.errors] == ["KS010"] and [d.name for d in result.docs] == ["spot-book"]


def test_a_file_exactly_at_a_configured_limit_is_read_and_one_byte_more_is_not(tmp_path):
    _policy_of_size(tmp_path / "p.yaml", 4000)
    assert read_sources([str(tmp_path / "p.yaml")], max_file_bytes=4000).files
    [refused] = read_sources([str(tmp_path / "p.yaml")], max_file_bytes=3999).diagnostics
    assert refused.message == "the file is 4,000 bytes, over the limit of 3,999 bytes; it was not read"


def test_a_higher_limit_reads_a_file_the_default_refuses(tmp_path):
    _policy_of_size(tmp_path / "big.yaml", 3 * MIB)
    assert [x.code for x in read_sources([str(tmp_path)]).diagnostics] == ["KS010"]
    src = read_sources([str(tmp_path)], max_file_bytes=parse_file_size("4MiB"))
    assert not src.diagnostics and len(src.files) == 1
    assert not compile_documents(load_sources(src.files)).errors


def test_a_file_over_the_limit_is_never_opened(tmp_path, monkeypatch):
    """Refused from its size on the file system: a sparse 8 GiB file costs nothing to refuse."""
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as fh:
        fh.truncate(8 * 1024 ** 3)
    opened: list[str] = []
    real_open = open

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(sources, "open", spy, raising=False)
    src = read_sources([str(tmp_path)])
    assert opened == [] and src.files == []
    assert [x.message for x in src.diagnostics] == [
        "the file is 8,589,934,592 bytes, over the limit of 1 MiB (1,048,576 bytes); it was not read"]


def test_a_file_that_reports_no_size_is_read_no_further_than_the_limit():
    """A device (or a file that grew after it was measured) is read up to the limit and one byte."""
    [refused] = read_sources(["/dev/zero"], max_file_bytes=1000).diagnostics
    assert refused.code == "KS010"
    assert refused.message == "the file holds more than the limit of 1,000 bytes; it was not read past it"


def test_a_test_of_a_policy_in_a_refused_file_says_that_file_could_not_be_read(tmp_path):
    _policy_of_size(tmp_path / "spot-book.yaml", MIB + 1)
    (tmp_path / "spot-book.test.yaml").write_text((POLICIES / "tests" / "spot-book.test.yaml").read_text())
    result = compile_read(read_sources([str(tmp_path)]))
    [unchecked] = [x for x in result.diagnostics if x.code != "KS010"]
    assert unchecked.code == "KS130" and unchecked.message == 'policy "spot-book" cannot be checked'
    assert f"{tmp_path / 'spot-book.yaml'} could not be read (see the error there)" in (unchecked.hint or "")
