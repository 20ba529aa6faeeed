// The gRPC side of the load generator (-grpc HOST:PORT): each client is one Translate call on its own connection,
// as a device has (proto/babelstream/v1/stream.proto). Messages are written and read as protobuf with protowire
// and sent through a codec that passes bytes through, so no generated Go code is needed: ClientMessage is
// config = 1, audio = 2 (Audio.pcm = 1), done = 3; ServerMessage is connected = 1, segment = 4, ack = 8
// (Ack.received_bytes = 5).
package main

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

const translateMethod = "/babelstream.v1.Babelstream/Translate"

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	p := v.(*[]byte)
	*p = append((*p)[:0], data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func protoField(number protowire.Number, value []byte) []byte {
	out := protowire.AppendTag(nil, number, protowire.BytesType)
	return protowire.AppendBytes(out, value)
}

// configMessage: the start message's mode and wait_for_results (what the bench's start messages set).
func configMessage(mode string, waitForResults bool) []byte {
	config := protowire.AppendTag(nil, 1, protowire.BytesType)
	config = protowire.AppendString(config, mode)
	config = protowire.AppendTag(config, 6, protowire.VarintType)
	config = protowire.AppendVarint(config, protowire.EncodeBool(waitForResults))
	return protoField(1, config)
}

func audioMessage(pcm []byte) []byte { return protoField(2, protoField(1, pcm)) }

var doneMessage = protoField(3, nil)

// serverCase: the ServerMessage's oneof case and its body.
func serverCase(message []byte) (protowire.Number, []byte) {
	number, kind, n := protowire.ConsumeTag(message)
	if n < 0 || kind != protowire.BytesType {
		return 0, nil
	}
	body, m := protowire.ConsumeBytes(message[n:])
	if m < 0 {
		return 0, nil
	}
	return number, body
}

func receivedBytes(ack []byte) int64 {
	for len(ack) > 0 {
		number, kind, n := protowire.ConsumeTag(ack)
		if n < 0 {
			return 0
		}
		ack = ack[n:]
		if number == 5 && kind == protowire.VarintType {
			value, _ := protowire.ConsumeVarint(ack)
			return int64(value)
		}
		m := protowire.ConsumeFieldValue(number, kind, ack)
		if m < 0 {
			return 0
		}
		ack = ack[m:]
	}
	return 0
}

type grpcSession struct {
	conn   *grpc.ClientConn
	stream grpc.ClientStream
	cancel context.CancelFunc
}

func openGRPC(target string, config []byte) (*grpcSession, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, translateMethod)
	if err == nil {
		var first []byte
		err = stream.RecvMsg(&first) // connected
		if err == nil && config != nil {
			err = stream.SendMsg(&config)
		}
	}
	if err != nil {
		cancel()
		conn.Close()
		return nil, err
	}
	return &grpcSession{conn: conn, stream: stream, cancel: cancel}, nil
}

func (s *grpcSession) send(message []byte) error { return s.stream.SendMsg(&message) }

func (s *grpcSession) done() error {
	if err := s.send(doneMessage); err != nil {
		return err
	}
	return s.stream.CloseSend()
}

// read: until the call ends; its status is the session's end ("OK" as the WebSocket's 1000).
func (s *grpcSession) read(r *result) {
	var message []byte
	for {
		err := s.stream.RecvMsg(&message)
		if errors.Is(err, io.EOF) {
			r.status = "OK"
			return
		}
		if err != nil {
			r.status = status.Code(err).String()
			r.errorMsg = status.Convert(err).Message()
			return
		}
		switch number, body := serverCase(message); number {
		case 4:
			r.segments++
		case 8:
			r.gotAck = true
			r.ackedBytes = receivedBytes(body)
		}
	}
}

func (s *grpcSession) close() {
	s.cancel()
	s.conn.Close()
}
