"""A fake Kubernetes API server for the pod role label: pods and their labels, on 127.0.0.1 over TLS.

It answers what :mod:`killswitch.process.pod_label` sends — ``PATCH
/api/v1/namespaces/NS/pods/NAME`` with a JSON merge patch — as the real one does: 415 for another
content type, 401 for another token, 404 for a pod it does not know, the patched pod otherwise;
or, with ``refuse`` set, that status with a Kubernetes Status body (403: the RBAC refusal).
Every PATCH is recorded. The service account directory it writes (``token``, ``ca.crt``: its own
self-signed certificate, made here with ``cryptography``; ``namespace``) is the one the runner
reads. It serves from a thread of its own, so a test can poll it while processes run.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.procs import free_port

TOKEN = "sa-t0ken-never-logged-4f2d9c"


def self_signed(directory: Path, name: str = "kube-apiserver") -> tuple[Path, Path]:
    """A key and a self-signed certificate for 127.0.0.1 (also its own CA): (cert, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("kubernetes.default.svc")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@dataclass(frozen=True)
class Patch:
    pod: str
    content_type: str
    authorization: str
    body: dict
    status: int  # what the fake answered


class FakeKube:
    def __init__(self, tmp: Path, namespace: str = "trading", pods: tuple[str, ...] = ("pod-a", "pod-b")):
        self.namespace = namespace
        self.sa_dir = tmp / "serviceaccount"
        self.sa_dir.mkdir(parents=True)
        cert, key = self_signed(tmp / "pki")
        (self.sa_dir / "ca.crt").write_bytes(cert.read_bytes())
        (self.sa_dir / "token").write_text(TOKEN + "\n")
        (self.sa_dir / "namespace").write_text(namespace)
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ssl.load_cert_chain(str(cert), str(key))
        self.labels: dict[str, dict[str, str]] = {p: {"app.kubernetes.io/name": "killswitch"} for p in pods}
        self.patches: list[Patch] = []
        self.refuse: Optional[int] = None
        self._lock = threading.Lock()
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._runner: Optional[web.AppRunner] = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-kube", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def env(self, pod: str) -> dict[str, str]:
        """The variables a pod of the chart has (its namespace from the service account's file)."""
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port), "POD_NAME": pod}

    def role(self, pod: str, key: str = "killswitch.io/role") -> Optional[str]:
        with self._lock:
            return self.labels[pod].get(key)

    def roles_set(self, pod: str, key: str = "killswitch.io/role") -> list[str]:
        """The values the PATCHes that were taken set on ``pod``, in order."""
        with self._lock:
            return [p.body["metadata"]["labels"][key] for p in self.patches if p.pod == pod and p.status == 200]

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_patch("/api/v1/namespaces/{namespace}/pods/{name}", self._patch)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl).start()

    async def _patch(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        pod = request.match_info["name"]
        content_type = request.headers.get("Content-Type", "")
        authorization = request.headers.get("Authorization", "")
        with self._lock:
            answer = self._answer(request.match_info["namespace"], pod, content_type, authorization, body)
            self.patches.append(Patch(pod, content_type, authorization, body, answer.status))
        return answer

    def _answer(self, namespace: str, pod: str, content_type: str, authorization: str, body: dict) -> web.Response:
        if self.refuse is not None:
            return _status(self.refuse, "Forbidden", f'pods "{pod}" is forbidden: User '
                           f'"system:serviceaccount:{self.namespace}:ks-killswitch" cannot patch resource "pods" '
                           f'in API group "" in the namespace "{self.namespace}"')
        if content_type.split(";")[0].strip() != "application/merge-patch+json":
            return _status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                        "accepted media types include: application/merge-patch+json")
        if authorization != f"Bearer {TOKEN}":
            return _status(401, "Unauthorized", "Unauthorized")
        if namespace != self.namespace or pod not in self.labels:
            return _status(404, "NotFound", f'pods "{pod}" not found')
        for k, v in body.get("metadata", {}).get("labels", {}).items():
            if v is None:
                self.labels[pod].pop(k, None)
            else:
                self.labels[pod][k] = v
        return web.json_response({"kind": "Pod", "apiVersion": "v1",
                                  "metadata": {"name": pod, "namespace": self.namespace,
                                               "labels": dict(self.labels[pod])}})

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                              "reason": reason, "code": code}, status=code)
