"""The babelstream.v1.Babelstream service: Translate (one session per call, translate_call.py) and Languages.

Registered as a generic handler rather than through the generated servicer: Translate's responses are serialized
by the session's outbox already (its bound is in encoded bytes), so they are sent as they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc

from babelstream.gateway import messages
from babelstream.gateway.access.refusal import Refusal
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.grpc.proto_messages import languages_response
from babelstream.gateway.grpc.status import ending_of
from babelstream.gateway.grpc.translate_call import TranslateCall, call_request, client_message
from babelstream.gateway.languages import installed_languages
from babelstream.v1 import stream_pb2

if TYPE_CHECKING:
    from babelstream.gateway.gateway import Gateway
    from babelstream.gateway.websocket.handshake import UpgradeRequest

SERVICE_NAME = stream_pb2.DESCRIPTOR.services_by_name["Babelstream"].full_name


def _as_is(encoded: bytes) -> bytes:
    return encoded


class BabelstreamService:
    def __init__(self, gateway: Gateway, *, tls: bool):
        self._gateway = gateway
        self._tls = tls
        self._calls: set[TranslateCall] = set()

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(SERVICE_NAME, {
            "Translate": grpc.stream_stream_rpc_method_handler(
                self.translate, request_deserializer=client_message,
                response_serializer=_as_is,
            ),
            "Languages": grpc.unary_unary_rpc_method_handler(
                self.languages, request_deserializer=stream_pb2.LanguagesRequest.FromString,
                response_serializer=stream_pb2.LanguagesResponse.SerializeToString,
            ),
        })

    async def translate(self, requests: AsyncIterator[stream_pb2.ClientMessage],
                        context: grpc.aio.ServicerContext) -> None:
        call = TranslateCall(
            self._gateway, context, self._request(context, "Translate")
        )
        self._calls.add(call)
        try:
            await call.run(requests)
        finally:
            self._calls.discard(call)

    async def languages(self, request: stream_pb2.LanguagesRequest,
                        context: grpc.aio.ServicerContext) -> stream_pb2.LanguagesResponse:
        # The same rule as GET /api/languages (the HTTP guard): the credential, when the server requires one.
        outcome = self._gateway.access.check(self._request(context, "Languages").headers)
        if isinstance(outcome, Refusal):
            refused = SessionEnded(CloseCode.POLICY_VIOLATION, outcome.reason, kind=Kind(str(outcome.kind)))
            ending = ending_of(messages.error(refused))
            await context.abort(ending.code, ending.details, ending.trailing_metadata)
        gateway = self._gateway
        return languages_response(installed_languages(gateway.settings, gateway.capabilities))

    def _request(self, context: grpc.aio.ServicerContext, method: str) -> UpgradeRequest:
        return call_request(context, f"/{SERVICE_NAME}/{method}", tls=self._tls, proxies=self._gateway.trusted_proxies)

    def shutdown(self) -> None:
        for call in list(self._calls):
            call.shutdown()
