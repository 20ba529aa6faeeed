"""`babelstream` command line: run the platform or one component, stream a file, probe latency."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys


def _kafka_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kafka",
        metavar="HOST:PORT",
        help="use Apache Kafka at HOST:PORT instead of the in-memory bus (as BUS=kafka, KAFKA_BOOTSTRAP_SERVERS)",
    )


def _http_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="listen address (default: HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default: PORT, else 8000)")


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

    stream = commands.add_parser("stream", help="stream a WAV file to a gateway and show live captions")
    stream.add_argument("file", help="a WAV file (any rate, mono or stereo, PCM16)")
    stream.add_argument("--to", default="", help="target languages, comma-separated (default: the server's)")
    stream.add_argument("--language", default=None, help="spoken language (default: the server's; 'auto' detects)")
    stream.add_argument("--url", default="ws://127.0.0.1:8000/ws/audio")
    stream.add_argument("--fast", action="store_true", help="send as fast as possible instead of in real time")
    stream.add_argument("--out", default="translated-audio", help="folder for the spoken translations")
    stream.add_argument("--no-speech", action="store_true", help="do not synthesize translations")

    probe = commands.add_parser("probe", help="measure end-to-end and per-stage latency over N utterances")
    probe.add_argument("-n", type=int, default=100, help="utterances to inject")
    probe.add_argument("--url", default="ws://127.0.0.1:8000/ws/audio")
    probe.add_argument("--concurrency", type=int, default=1, help="speakers at once")
    probe.add_argument("--to", default="es")
    probe.add_argument("--json", dest="json_out", default=None, help="also write the figures to this file")
    return parser


def _settings(args: argparse.Namespace):
    """The process's settings, built once: the environment, then what the command line says over it."""
    from babelstream.settings import Settings

    bus = {"bus": "kafka", "kafka_bootstrap_servers": args.kafka} if args.kafka else {}
    gateway = {name: getattr(args, name) for name in ("host", "port") if getattr(args, name, None) is not None}
    return Settings.from_environment(bus=bus, gateway=gateway)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command in ("serve", "gateway", "stage"):
        from babelstream.platform import STAGE_NAMES, Platform, run_stages, serve_http

        settings = _settings(args)
        if args.command != "serve" and settings.bus.bus != "kafka":
            print(f"babelstream {args.command} runs over Kafka: pass --kafka HOST:PORT or set BUS=kafka", file=sys.stderr)
            return 2
        if args.command == "serve":
            serve_http(Platform(settings, gateway=True, stages=STAGE_NAMES))
        elif args.command == "gateway":
            serve_http(Platform(settings, gateway=True, stages=()))
        else:
            asyncio.run(run_stages(Platform(settings, gateway=False, stages=(args.name,))))
        return 0
    if args.command == "stream":
        from babelstream.clients.stream import stream_file

        return asyncio.run(stream_file(args))
    if args.command == "probe":
        from babelstream.clients.probe import run_probe

        return asyncio.run(run_probe(args))
    return 2


if __name__ == "__main__":
    sys.exit(main())
