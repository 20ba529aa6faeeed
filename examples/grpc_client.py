"""A gRPC client of babelstream in one file: stream a 16 kHz mono PCM16 WAV in real time, print what comes back.

    python examples/grpc_client.py speech.wav --to es [--target 127.0.0.1:50051] [--token KEY]

It needs only grpcio and the code generated from proto/babelstream/v1/stream.proto (here, the installed
`babelstream.v1`; in another project, `python -m grpc_tools.protoc -I proto --python_out=. --grpc_python_out=.
proto/babelstream/v1/stream.proto`). Against `make run`: `babelstream serve` listens for gRPC on 127.0.0.1:50051.
Spoken translations are written as translation-<segment>-<language>.wav.
"""

import argparse
import sys
import time
import wave

import grpc
from google.protobuf import text_format

from babelstream.v1 import stream_pb2, stream_pb2_grpc

FRAME_BYTES = 640  # 20 ms of 16 kHz PCM16


def client_messages(pcm: bytes, targets: list[str]):
    yield stream_pb2.ClientMessage(config=stream_pb2.Config(language="en", targets=stream_pb2.Targets(languages=targets)))
    began = time.monotonic()
    for position, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
        time.sleep(max(0.0, began + position * 0.02 - time.monotonic()))  # real time, as a microphone sends
        yield stream_pb2.ClientMessage(audio=stream_pb2.Audio(pcm=pcm[offset : offset + FRAME_BYTES]))
    yield stream_pb2.ClientMessage(done=stream_pb2.Done())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav")
    parser.add_argument("--to", default="es", help="target languages, comma-separated")
    parser.add_argument("--target", default="127.0.0.1:50051", help="the gateway's gRPC address")
    parser.add_argument("--token", help="an API key or token, if the gateway requires one")
    args = parser.parse_args()
    with wave.open(args.wav) as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (16000, 1, 2):
            sys.exit("the example sends 16 kHz mono PCM16 as it is (babelstream stream converts any WAV)")
        pcm = wav.readframes(wav.getnframes())
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    with grpc.insecure_channel(args.target) as channel:
        replies = stream_pb2_grpc.BabelstreamStub(channel).Translate(
            client_messages(pcm, args.to.split(",")), metadata=metadata)
        try:
            for reply in replies:
                case = reply.WhichOneof("message")
                message = getattr(reply, case)
                if case == "transcript":
                    print(f"[{message.segment_index}] {message.text}")
                elif case == "translation":
                    print(f"[{message.segment_index}] {message.target_language}: {message.text}")
                elif case == "audio":
                    name = f"translation-{message.segment_index}-{message.language}.wav"
                    with open(name, "wb") as out:
                        out.write(message.audio_wav)
                elif case in ("warning", "summary"):
                    print(f"{case}: {text_format.MessageToString(message, as_one_line=True)}")
        except grpc.RpcError as error:  # the session ended early: its kind is in the trailing metadata
            kind = dict(error.trailing_metadata() or ()).get("babelstream-kind")
            print(f"ended {error.code().name} ({kind}): {error.details()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
