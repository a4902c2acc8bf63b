"""No bearer token reaches a log line or an answer, however broken the request that carries it.

A real ``ksctl run`` (against the simulated exchange's HTTP face) with a tokens document of a
viewer and an operator gets, on raw sockets, every kind of request aiohttp's parser refuses with
the token in it: a control character after the token, a header over the parser's size limit,
bytes that are not UTF-8, a header without a colon, a request line over the limit, a bad method,
a bad HTTP version, a broken chunked body. Then nothing the process wrote (stdout, stderr, the
simulator's log) nor any answer holds the token, or its first 12 characters.

The runner knows only the SHA-256 of these tokens (the tokens document), so scrubbing by value
cannot hide them: the answer and the log line must not quote the request at all.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
import subprocess
import time

import pytest

from tests.procs import free_port, wait_port

from .test_processes import ENV, KSCTL, Sim, stop, wait_for, write_inputs

PAD = 9_000  # over aiohttp's max_line_size and max_field_size (8190)


def _requests(token: str) -> dict[str, bytes]:
    """Each request the parser refuses, with ``token`` in it (and the header that carries it)."""
    tok = token.encode()
    auth = b"Authorization: Bearer " + tok
    head = b"Host: 127.0.0.1\r\nConnection: close\r\n"

    def get(line: bytes = b"GET /v1/status HTTP/1.1", headers: bytes = auth) -> bytes:
        return line + b"\r\n" + head + headers + b"\r\n\r\n"

    return {
        "NUL after the token": get(headers=auth + b"\x00"),
        "SOH after the token": get(headers=auth + b"\x01"),
        "DEL after the token": get(headers=auth + b"\x7f"),
        "a control character inside the token": get(headers=auth[:-4] + b"\x00" + auth[-4:]),
        "an Authorization header over the size limit": get(headers=auth + b"A" * PAD),
        "another header over the size limit": get(headers=auth + b"\r\nX-Pad: " + b"B" * PAD),
        "bytes that are not UTF-8": get(headers=auth + b"\xff\xfe\xc3\x28"),
        "a latin-1 byte": get(headers=auth + b"\xe9t\xe9"),
        "a header without a colon": get(headers=b"Authorization Bearer " + tok),
        "the token as a header without a colon": get(headers=auth + b"\r\n" + tok),
        "a request line over the size limit": get(line=b"GET /v1/status?token=" + tok + b"&pad=" + b"c" * PAD
                                                  + b" HTTP/1.1"),
        "a bad method": get(line=b"G\x01T /v1/status HTTP/1.1"),
        "a method holding the token": get(line=tok + b"\x00 /v1/status HTTP/1.1"),
        "a bad HTTP version": get(line=b"GET /v1/status HTTP/9.Z"),
        "the token in a path with a control character": get(line=b"GET /v1/runbooks/" + tok + b"\x01 HTTP/1.1"),
        "bad chunked encoding": (b"POST /v1/heartbeat/bot-a HTTP/1.1\r\n" + head + auth
                                 + b"\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                                 + b"zz\r\n{}\r\n0\r\n\r\n"),
        "bad chunked encoding on a read": (b"GET /v1/status HTTP/1.1\r\n" + head + auth
                                           + b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab\r\n0\r\n\r\n"),
        "chunked and a length": (b"POST /v1/heartbeat/bot-a HTTP/1.1\r\n" + head + auth
                                 + b"\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"),
    }


def _send(port: int, data: bytes) -> bytes:
    """Send ``data`` and read the answer to its end (the server closes every connection here)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(data)
        except OSError:  # the server may close before reading everything of an oversized request
            pass
        chunks = []
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_token_in_any_log_or_answer_whatever_the_parser_refuses(tmp_path, log_format):
    tokens = {"vera": secrets.token_urlsafe(32), "otto": secrets.token_urlsafe(32)}  # as ksctl token new draws them
    roles = {"vera": "viewer", "otto": "operator"}
    (tmp_path / "tokens.yaml").write_text("apiVersion: killswitch/v1\nkind: ApiTokens\ntokens:\n" + "".join(
        f"  - {{identity: {who}, roles: [{roles[who]}], sha256: {hashlib.sha256(t.encode()).hexdigest()}}}\n"
        for who, t in tokens.items()))
    sim = Sim(tmp_path, scenario="calm")
    out, err = open(tmp_path / "run.out", "w"), open(tmp_path / "run.err", "w")
    runner = None
    answers: dict[tuple[str, str], bytes] = {}
    try:
        pol, acc = write_inputs(tmp_path, sim.port)
        port = free_port()
        runner = subprocess.Popen(
            [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc),
             "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
             "--api-port", str(port), "--api-tokens", str(tmp_path / "tokens.yaml"), "--log-format", log_format],
            stdout=out, stderr=err, env={k: v for k, v in ENV.items() if k != "KS_API_TOKEN"})
        wait_port(port, 60)
        # the tokens work: a well-formed request with each is answered
        for who, token in tokens.items():
            ok = _send(port, f"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             f"Authorization: Bearer {token}\r\n\r\n".encode())
            assert ok.startswith(b"HTTP/1.1 200") and who.encode() in ok, ok[:200]
        for who, token in tokens.items():
            for case, data in _requests(token).items():
                answers[(who, case)] = _send(port, data)
        wait_for(lambda: runner.poll() is None, 1, "the runner to stay up")
        time.sleep(0.5)  # the last log lines
    finally:
        stop(runner)
        out.close()
        err.close()
        sim.close()
    streams = {"stdout": (tmp_path / "run.out").read_bytes(), "stderr": (tmp_path / "run.err").read_bytes()}
    streams.update({p.name: p.read_bytes() for p in tmp_path.glob("sim-*.log")})
    streams.update({f"the answer to {who}'s {case}": a for (who, case), a in answers.items()})
    for who, token in tokens.items():
        for needle in (token, token[:12]):
            leaks = [name for name, text in streams.items() if needle.encode() in text]
            assert not leaks, f"{who}'s token ({needle[:4]}…) in {leaks}"
    for (who, case), answer in answers.items():
        assert answer.startswith(b"HTTP/1."), f"{who}, {case}: no answer"
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, f"{who}, {case}: {answer[:300]!r}"
    refused = streams["stderr"].count(b"BAD_HTTP_REQUEST")
    assert refused >= len(tokens) * 10, streams["stderr"][-3000:]  # the refusals were logged, as one line each
    assert b"Traceback" not in streams["stderr"], streams["stderr"][-3000:]
