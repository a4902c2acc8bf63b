"""Secrets read from files (killswitch/secret_file.py): each way a file can be unusable is an
error naming the option and the path, never a byte of the content."""

from __future__ import annotations

import os
import sys

import pytest

from adapters.base import AdapterError, Reason
from adapters.credentials import resolve_secret
from killswitch.policy.accounts_doc import SecretRef
from killswitch.secret_file import MAX_SECRET_BYTES, SecretFileError, read_secret_file

SECRET = "s3cr3t-value-never-shown"


def test_the_content_is_read_stripped_of_surrounding_whitespace(tmp_path):
    f = tmp_path / "token"
    f.write_text(f"  {SECRET}\n\n")
    assert read_secret_file(str(f), "--api-token-file") == SECRET


def _error(path, what="--api-token-file") -> SecretFileError:
    with pytest.raises(SecretFileError) as e:
        read_secret_file(str(path), what)
    return e.value


@pytest.mark.parametrize("content,code", [("", "SECRET_FILE_EMPTY"), (" \n\t\n", "SECRET_FILE_EMPTY"),
                                          (b"\xff\xfe" + SECRET.encode(), "SECRET_FILE_UNREADABLE"),
                                          ("x" * (MAX_SECRET_BYTES + 1), "SECRET_FILE_TOO_LARGE")])
def test_an_unusable_content_is_refused_naming_the_option_and_the_path(tmp_path, content, code):
    f = tmp_path / "token"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    e = _error(f)
    assert e.code == code and str(e).startswith(f"{code}: --api-token-file {f}: ")
    assert SECRET not in str(e) and "xxxx" not in str(e)


def test_a_missing_file_and_a_directory_are_refused(tmp_path):
    e = _error(tmp_path / "none")
    assert e.code == "SECRET_FILE_MISSING" and str(e) == (f"SECRET_FILE_MISSING: --api-token-file {tmp_path / 'none'}: "
                                                          "no such file (is the Secret mounted there?)")
    assert _error(tmp_path).code == "SECRET_FILE_NOT_A_FILE"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads any file")
def test_a_file_the_runner_may_not_read_is_refused(tmp_path):
    f = tmp_path / "token"
    f.write_text(SECRET)
    f.chmod(0)
    e = _error(f)
    assert e.code == "SECRET_FILE_UNREADABLE" and "fsGroup" in str(e) and SECRET not in str(e)


def test_a_device_that_never_ends_is_not_read_past_the_limit():
    e = _error("/dev/zero")
    assert e.code == "SECRET_FILE_NOT_A_FILE"


def test_an_accounts_file_reference_that_is_empty_or_missing_is_an_auth_error_naming_the_path(tmp_path):
    f = tmp_path / "binance-secret"
    f.write_text("\n")
    with pytest.raises(AdapterError) as e:
        resolve_secret(SecretRef(file=str(f)))
    assert e.value.reason is Reason.AUTH and str(f) in str(e.value) and "SECRET_FILE_EMPTY" in str(e.value)
    with pytest.raises(AdapterError) as e:
        resolve_secret(SecretRef(file=str(tmp_path / "none")))
    assert e.value.reason is Reason.AUTH and "SECRET_FILE_MISSING" in str(e.value)
    f.write_text(SECRET + "\n")
    assert resolve_secret(SecretRef(file=str(f))).reveal() == SECRET
