"""`babelstream` command line: run the platform or one component, stream a file, probe latency."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from babelstream.log_format import configure_logging


def _kafka_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kafka",
        metavar="HOST:PORT",
        help="use Apache Kafka at HOST:PORT instead of the in-memory bus (as BUS=kafka, KAFKA_BOOTSTRAP_SERVERS)",
    )


def _http_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="listen address (default: HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default: PORT, else 8000)")
    parser.add_argument(
        "--grpc-port", type=int, metavar="PORT",
        help="the gRPC ingress's port, on the same host (default: GRPC_PORT, else 50051; 0: no gRPC)",
    )
    parser.add_argument(
        "--insecure", action="store_true",
        help="listen on a non-loopback --host with no credentials configured (anyone who reaches it can use it)",
    )
    parser.add_argument(
        "--ssl-certfile", type=Path, metavar="PEM",
        help="serve https:// and wss:// with this certificate (chain) (default: SSL_CERTFILE, else plain HTTP)",
    )
    parser.add_argument(
        "--ssl-keyfile", type=Path, metavar="PEM",
        help="the certificate's private key (default: SSL_KEYFILE; not needed when --ssl-certfile holds it)",
    )


def _access_commands(commands) -> None:
    keys = commands.add_parser("keys", help="API keys in API_KEYS_FILE: add (prints the secret once), list, remove")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    for name, text in (("add", "make a key and print its secret, once"), ("list", "the keys' names"),
                       ("remove", "revoke a key (running gateways notice within a second)")):
        command = key_commands.add_parser(name, help=text)
        if name != "list":
            command.add_argument("name", help="the key's name (letters, digits, . _ @ -): who holds it")
        command.add_argument("--file", type=Path, help="the key file (default: API_KEYS_FILE)")

    token = commands.add_parser("token", help="mint a JWT for this server (JWT_SECRET, or --private-key)")
    token.add_argument("--ttl", default="1h", help="how long it is valid: 90s, 30m, 2h, 7d (default: 1h)")
    token.add_argument("--room", help="restrict it to this room")
    token.add_argument("--role", choices=("speaker", "listener"), help="restrict it to this role in its room")
    token.add_argument("--subject", default="babelstream-cli", help="who it is for (the `sub` claim; logged)")
    token.add_argument(
        "--private-key", type=Path,
        help="sign RS256/ES256 with this PEM private key (the gateways verify with its public half, JWT_PUBLIC_KEY)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="babelstream", description="Real-time speech translation platform")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="gateway and every stage in one process (in-memory bus by default)")
    _kafka_option(serve)
    _http_options(serve)

    gateway = commands.add_parser("gateway", help="the WebSocket gateway alone (stages run elsewhere, over Kafka)")
    _kafka_option(gateway)
    _http_options(gateway)

    stage = commands.add_parser("stage", help="one pipeline stage (over Kafka)")
    stage.add_argument("name", choices=("segmenter", "asr", "translate", "tts"))
    _kafka_option(stage)
    stage.add_argument(
        "--metrics-port", type=int, metavar="PORT",
        help="serve /healthz, /readyz and /metrics on this port (default: METRICS_PORT, else 9100; 0: none)",
    )

    stream = commands.add_parser("stream", help="stream a WAV file to a gateway and show live captions")
    stream.add_argument("file", help="a WAV file (any rate, mono or stereo, PCM16)")
    stream.add_argument("--to", default="", help="target languages, comma-separated (default: the server's)")
    stream.add_argument("--language", default=None, help="spoken language (default: the server's; 'auto' detects)")
    stream.add_argument("--url", default="ws://127.0.0.1:8000/ws/audio")
    stream.add_argument("--fast", action="store_true", help="send as fast as possible instead of in real time")
    stream.add_argument("--out", default="translated-audio", help="folder for the spoken translations")
    stream.add_argument("--no-speech", action="store_true", help="do not synthesize translations")
    stream.add_argument("--no-partials", action="store_true", help="no interim captions while a sentence is spoken")
    stream.add_argument("--room", help="speak into this room: its listeners (babelstream listen, the page) get it too")
    stream.add_argument(
        "--grpc", nargs="?", const="127.0.0.1:50051", metavar="HOST:PORT",
        help="through the gRPC ingress instead of the WebSocket (default 127.0.0.1:50051; grpcs://HOST:PORT for TLS; "
        "a,b: a resume after a dropped call goes to the next)",
    )
    stream.add_argument("--token", default=None, help="with --grpc: a key or token, when the server requires one")

    listen = commands.add_parser("listen", help="print a room's captions and translation live")
    listen.add_argument("--room", required=True, help="the room's id")
    listen.add_argument("--lang", required=True, help="the language to read the room in (e.g. es)")
    listen.add_argument("--url", default="ws://127.0.0.1:8000", help="the gateway (ws:// or wss://, host and port)")
    listen.add_argument("--token", default=None, help="a key or token, when the server requires one")

    probe = commands.add_parser("probe", help="measure end-to-end and per-stage latency over N utterances")
    probe.add_argument("-n", type=int, default=100, help="utterances to inject")
    probe.add_argument("--url", default="ws://127.0.0.1:8000/ws/audio")
    probe.add_argument("--concurrency", type=int, default=1, help="speakers at once")
    probe.add_argument("--to", default="es")
    probe.add_argument("--json", dest="json_out", default=None, help="also write the figures to this file")

    _access_commands(commands)
    return parser


def _settings(args: argparse.Namespace):
    """The process's settings, built once: the environment, then what the command line says over it."""
    from babelstream.settings import Settings

    kafka = getattr(args, "kafka", None)
    bus = {"bus": "kafka", "kafka_bootstrap_servers": kafka} if kafka else {}
    gateway = {
        name: getattr(args, name)
        for name in ("host", "port", "grpc_port", "ssl_certfile", "ssl_keyfile")
        if getattr(args, name, None) is not None
    }
    metrics_port = getattr(args, "metrics_port", None)
    stages = {"metrics_port": metrics_port} if metrics_port is not None else {}
    return Settings.from_environment(bus=bus, gateway=gateway, stages=stages)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = _settings(args)
    configure_logging(settings.log, verbose=args.verbose)  # once, for every logger (uvicorn's too)
    if args.command in ("serve", "gateway", "stage"):
        from babelstream.platform import STAGE_NAMES, Platform, run_stages, serve_http

        if args.command != "serve" and settings.bus.bus != "kafka":
            print(f"babelstream {args.command} runs over Kafka: pass --kafka HOST:PORT or set BUS=kafka", file=sys.stderr)
            return 2
        if args.command != "stage":
            from babelstream.gateway.access import InsecureBinding, require_credentials_for

            try:
                require_credentials_for(settings.gateway, insecure=args.insecure)
            except InsecureBinding as refusal:
                print(f"babelstream {args.command}: {refusal}", file=sys.stderr)
                return 2
            if settings.gateway.ssl_keyfile and not settings.gateway.ssl_certfile:
                print(f"babelstream {args.command}: a TLS key needs its certificate: pass --ssl-certfile (SSL_CERTFILE)",
                      file=sys.stderr)
                return 2
        if args.command == "serve":
            serve_http(Platform(settings, gateway=True, stages=STAGE_NAMES))
        elif args.command == "gateway":
            serve_http(Platform(settings, gateway=True, stages=()))
        else:
            asyncio.run(run_stages(Platform(settings, gateway=False, stages=(args.name,))))
        return 0
    if args.command == "stream":
        if args.grpc:
            from babelstream.clients.stream_grpc import stream_file_grpc

            return asyncio.run(stream_file_grpc(args))
        from babelstream.clients.stream import stream_file

        return asyncio.run(stream_file(args))
    if args.command == "listen":
        from babelstream.clients.listen import listen_to_room

        return asyncio.run(listen_to_room(args))
    if args.command == "probe":
        from babelstream.clients.probe import run_probe

        return asyncio.run(run_probe(args))
    if args.command == "keys":
        return _keys(args, settings)
    if args.command == "token":
        return _token(args, settings)
    return 2


def _keys(args: argparse.Namespace, settings) -> int:
    from babelstream.gateway.access import api_keys
    from babelstream.gateway.access.errors import KeyFileError

    path = args.file or settings.gateway.api_keys_file
    if path is None:
        print("babelstream keys: no key file: set API_KEYS_FILE (as the gateway will) or pass --file PATH",
              file=sys.stderr)
        return 2
    try:
        if args.keys_command == "add":
            secret = api_keys.add_key(path, args.name)
            print(f"Added key {args.name!r} to {path}. Its secret, shown only this once:", file=sys.stderr)
            print(secret)
        elif args.keys_command == "remove":
            api_keys.remove_key(path, args.name)
            print(f"Removed key {args.name!r} from {path}.", file=sys.stderr)
        else:
            for entry in api_keys.read_entries(path):
                print(entry.name)
    except (KeyFileError, OSError) as error:
        print(f"babelstream keys {args.keys_command}: {error}", file=sys.stderr)
        return 1
    return 0


def _token(args: argparse.Namespace, settings) -> int:
    import datetime

    from babelstream.gateway.access.errors import AccessConfigError
    from babelstream.gateway.access.tokens import (
        TokenRejected, TokenVerifier, load_private_key, mint_token, parse_ttl,
    )

    gateway = settings.gateway
    secret = gateway.jwt_secret.get_secret_value() if gateway.jwt_secret else None
    try:
        ttl = parse_ttl(args.ttl)
        if args.private_key:
            signing = {"private_key": load_private_key(args.private_key)}
        elif secret:
            signing = {"secret": secret}
        else:
            print("babelstream token: set JWT_SECRET (as the gateway has it), or pass --private-key PEM",
                  file=sys.stderr)
            return 2
        token = mint_token(**signing, audience=gateway.jwt_audience, ttl_seconds=ttl, subject=args.subject,
                           room=args.room, role=args.role)
        # A token this server's own configuration would refuse (a private key whose public half is not
        # JWT_PUBLIC_KEY) is caught here rather than by the person it is given to.
        verifier = TokenVerifier.build(secret=secret, public_key=gateway.jwt_public_key, audience=gateway.jwt_audience)
        if verifier is not None:
            verifier.verify(token)
    except ValueError as error:
        print(f"babelstream token: {error}", file=sys.stderr)
        return 2
    except (AccessConfigError, TokenRejected) as error:
        print(f"babelstream token: {error}", file=sys.stderr)
        return 1
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
    print(f"Valid until {expires:%Y-%m-%d %H:%M} UTC, audience {gateway.jwt_audience!r}.", file=sys.stderr)
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
