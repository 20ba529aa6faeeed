"""The gRPC ingress server: grpc.aio on GRPC_PORT (the HTTP server's host), in the gateway's process and event loop,
beside uvicorn. It serves babelstream.v1.Babelstream (service.py), the standard health service (grpc.health.v1:
SERVING while the gateway runs, NOT_SERVING as it stops) and server reflection (what grpcurl lists and describes).
Over TLS with the HTTP server's certificate when SSL_CERTFILE is set.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from babelstream.gateway.grpc.service import SERVICE_NAME, BabelstreamService

if TYPE_CHECKING:
    from babelstream.gateway.gateway import Gateway

log = logging.getLogger(__name__)

# How long calls may go on after the gateway starts stopping: each session was told `shutdown` and publishes what
# it holds meanwhile.
STOP_GRACE_SECONDS = 5.0
# A message over MAX_CHUNK_BYTES is refused by the session (frame_too_large, as on the WebSocket); one over this much
# more is refused by gRPC itself (RESOURCE_EXHAUSTED, without a kind) before it is read into memory.
_RECEIVE_SLACK_BYTES = 64 * 1024
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----\s*", re.S)


def _grpc_metadata_bound(max_header_bytes: int) -> int:
    return 2 * max_header_bytes + 4096  # room for what grpc counts besides the metadata (its pseudo-headers)


def server_credentials(certfile: Path, keyfile: Path | None) -> grpc.ServerCredentials:
    """SSL_CERTFILE and SSL_KEYFILE as uvicorn reads them: the key in its own file, or in the certificate's."""
    chain = certfile.read_bytes()
    key = keyfile.read_bytes() if keyfile else b"".join(m.group(0) for m in _PRIVATE_KEY.finditer(chain))
    if not key:
        raise ValueError(f"{certfile} holds no private key: set SSL_KEYFILE")
    return grpc.ssl_server_credentials([(key, _PRIVATE_KEY.sub(b"", chain))])


class GrpcServer:
    def __init__(self, gateway: Gateway):
        settings = gateway.settings
        self._gateway = gateway
        self._settings = settings
        self._service = BabelstreamService(gateway, tls=settings.ssl_certfile is not None)
        self._health = health_aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self.port: int | None = None

    async def start(self) -> None:
        settings = self._settings
        server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", settings.max_chunk_bytes + _RECEIVE_SLACK_BYTES),
            ("grpc.so_reuseport", 0),  # a port already taken is an error, not shared with another gateway
            # A call's metadata, as a request head, are bounded by MAX_HEADER_BYTES: the handler refuses them
            # (translate_call.py) before anything starts. grpc's own bound, soft and hard alike, is set above it, to
            # bound memory only: grpc refuses metadata over it after dispatching the call, too late to be clean.
            ("grpc.max_metadata_size", _grpc_metadata_bound(settings.max_header_bytes)),
            ("grpc.absolute_max_metadata_size", _grpc_metadata_bound(settings.max_header_bytes)),
        ])
        server.add_generic_rpc_handlers((self._service.handler(),))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
        )
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        address = f"{host}:{settings.grpc_port}"
        if settings.ssl_certfile:
            self.port = server.add_secure_port(address, server_credentials(settings.ssl_certfile, settings.ssl_keyfile))
        else:
            self.port = server.add_insecure_port(address)
        await server.start()
        self._server = server
        for service in ("", SERVICE_NAME):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info("gRPC ingress on %s://%s:%d", "grpcs" if settings.ssl_certfile else "grpc", settings.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        await self._health.enter_graceful_shutdown()
        self._service.shutdown()
        await self._server.stop(STOP_GRACE_SECONDS)
        self._server = None
