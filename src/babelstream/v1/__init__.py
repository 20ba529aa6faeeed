"""The gRPC API's messages and stubs, generated from proto/babelstream/v1/stream.proto by scripts/generate-proto.sh
(do not edit the *_pb2* files: change the .proto and regenerate). The package mirrors the proto package
`babelstream.v1`, as the generated code imports it."""
