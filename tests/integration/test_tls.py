"""TLS without a proxy (issue #10): `babelstream serve --ssl-certfile --ssl-keyfile` answers https:// and wss:// on
its port, and a page it serves over https (origin https://host:port) may open its socket, as wss; its gRPC ingress
answers over TLS with the same certificate."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import ssl
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

from babelstream.client.grpc_call import requests, translate
from babelstream.client.messages import Start
from babelstream.gateway.grpc.server import server_credentials
from tests.support.gateway_cases import PCM
from tests.support.harness import free_port, frames_of
from tests.support.process import Component

TIMEOUT = 10.0


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key: (certificate file, key file), PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "babelstream test")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = folder / "cert.pem", folder / "key.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_file, key_file


async def conversation(url: str, trust: ssl.SSLContext, origin: str, frames: list[bytes]) -> tuple[list[dict], int]:
    """Everything the server says to a client that sends a start message, `frames` and done; and the close code."""
    messages = []
    async with connect(url, ssl=trust, additional_headers={"Origin": origin}, open_timeout=TIMEOUT) as ws:
        messages.append(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))
        if messages[0].get("status") == "connected":
            await ws.send(json.dumps({"event": "start", "wait_for_results": False}))
            for frame in frames:
                await ws.send(frame)
            await ws.send(json.dumps({"event": "done"}))
        try:
            while True:
                messages.append(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))
        except Exception:  # noqa: BLE001 - closed by the server: the close code says how
            pass
        return messages, ws.close_code


async def test_serve_with_a_certificate_answers_https_and_wss(tmp_path):
    certificate, key = self_signed_certificate(tmp_path)
    trust = ssl.create_default_context(cafile=str(certificate))
    port, grpc_port = free_port(), free_port()
    env = {**os.environ, "WARM_UP": "false", "BUS": "memory"}
    for name in ("SSL_CERTFILE", "SSL_KEYFILE", "API_KEYS_FILE", "JWT_SECRET", "JWT_PUBLIC_KEY", "ORIGIN_ALLOWLIST"):
        env.pop(name, None)
    server = Component(
        f"tls-{uuid.uuid4().hex[:6]}",
        ["serve", "--port", str(port), "--grpc-port", str(grpc_port), "--ssl-certfile", str(certificate),
         "--ssl-keyfile", str(key)],
        env,
    )
    server.start()
    try:
        await asyncio.to_thread(server.wait_until_ready, f"https://127.0.0.1:{port}/readyz", 120, trust)
        async with httpx.AsyncClient(verify=trust) as client:
            health = await client.get(f"https://127.0.0.1:{port}/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})

        # The page as served over TLS: its origin is https://127.0.0.1:PORT, its socket wss, and a whole session works.
        url = f"wss://127.0.0.1:{port}/ws/audio"
        messages, code = await conversation(url, trust, f"https://127.0.0.1:{port}", frames_of(PCM))
        assert messages[0]["status"] == "connected"
        assert [m["type"] for m in messages[1:] if m.get("type") in ("ready", "ack", "summary")] == [
            "ready", "ack", "summary"
        ]
        assert code == 1000
        # The same host and port over plain http is another origin: a page there is not this gateway's own.
        messages, code = await conversation(url, trust, f"http://127.0.0.1:{port}", [])
        assert (messages[0].get("kind"), code) == ("origin", 1008)

        # gRPC over TLS with the same certificate: a whole session; in the clear, nothing.
        target = f"127.0.0.1:{grpc_port}"
        over_tls = grpc.ssl_channel_credentials(root_certificates=certificate.read_bytes())
        talk = await asyncio.to_thread(translate, target, requests(Start(wait_for_results=False), frames_of(PCM)),
                                       credentials=over_tls, timeout=TIMEOUT)
        assert talk.code == grpc.StatusCode.OK and talk.of("summary")
        plain = await asyncio.to_thread(translate, target, requests(None, frames_of(PCM)), timeout=TIMEOUT)
        assert plain.code == grpc.StatusCode.UNAVAILABLE and not plain.messages

        # Nothing answers in the clear on the TLS port.
        with pytest.raises(httpx.HTTPError):
            async with httpx.AsyncClient() as client:
                await client.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        await asyncio.to_thread(server.stop)


def test_the_key_may_be_in_the_certificates_file_as_uvicorn_allows(tmp_path):
    certificate, key = self_signed_certificate(tmp_path)
    both = tmp_path / "both.pem"
    both.write_bytes(certificate.read_bytes() + key.read_bytes())
    assert server_credentials(both, None) is not None
    with pytest.raises(ValueError, match="no private key"):
        server_credentials(certificate, None)
