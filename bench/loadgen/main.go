// loadgen: N concurrent WebSocket clients (or, with -grpc, gRPC Translate calls: grpc.go), each streaming 20 ms
// PCM16 frames on a real-time schedule.
//
// Used by bench/gateway_capacity.py (which builds it). Each client connects (connections are spread over
// -ramp seconds), reads the server's first message, sends the optional -start text message, then from
// -start-at on sends one -frame-bytes frame every -frame-ms on absolute deadlines (no drift) for -seconds,
// then {"event":"done"}, and reads until the server closes. Every frame carries its send time (-stamp sent:
// the clock just before the write; -stamp scheduled: its deadline) as CLOCK_REALTIME ns, a little-endian
// int64, in the low bytes of its first 8 samples, the high bytes zeroed, so the server side can measure the
// lag from sending to handling (see stampFrame). Client i's schedule is offset by i/N of a frame interval (clients are not
// in lockstep) and starts at a random frame of the audio loop (utterances end at different times).
//
// With -source, client i binds its socket to the i-th address of the list (round robin), so the gateway's
// per-address limits can be exercised on loopback (any address in 127.0.0.0/8 is the local host).
//
// `loadgen listen ...` runs room listeners instead (listen.go).
//
// Prints one JSON object with the totals on stdout; acked_bytes sums the received_bytes of every session's ack
// (what the gateway says it took, per honest session, whatever else it served meanwhile).
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Send lateness (actual write start - scheduled time) histogram: 100 µs buckets up to 2 s.
const (
	bucketNs   = 100_000
	numBuckets = 20_000
)

var lateness [numBuckets + 1]atomic.Int64

func recordLate(d time.Duration) {
	i := int64(d) / bucketNs
	if i < 0 {
		i = 0
	}
	if i > numBuckets {
		i = numBuckets
	}
	lateness[i].Add(1)
}

func latePercentile(q float64) float64 {
	var total int64
	for i := range lateness {
		total += lateness[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total-1)) + 1
	var seen int64
	for i := range lateness {
		seen += lateness[i].Load()
		if seen >= rank {
			return float64(i+1) * bucketNs / 1e6 // upper edge, ms
		}
	}
	return float64(numBuckets) * bucketNs / 1e6
}

// stampFrame writes the 8 bytes of the stamp into the low bytes of the first 8 PCM16 samples and zeroes
// their high bytes: the samples stay within 0..255 (-42 dBFS), so the VAD still hears the pauses. (The raw
// 8 bytes as 4 samples are full-scale clicks every 20 ms: webrtcvad then finds no pause in 15 s.)
func stampFrame(frame []byte, stamp int64) {
	var raw [8]byte
	binary.LittleEndian.PutUint64(raw[:], uint64(stamp))
	for j := 0; j < 8; j++ {
		frame[2*j] = raw[j]
		frame[2*j+1] = 0
	}
}

type result struct {
	connected  bool
	connectErr string
	framesSent int
	writeErr   string
	closeCode  int
	readErr    string
	status     string // a gRPC call's end: "OK", or its status code
	gotAck     bool
	ackedBytes int64
	segments   int
	errorMsg   string
}

type summary struct {
	N                int            `json:"n"`
	Connected        int            `json:"connected"`
	ConnectErrors    int            `json:"connect_errors"`
	FramesPerClient  int            `json:"frames_per_client"`
	FramesExpected   int64          `json:"frames_expected"`
	FramesSent       int64          `json:"frames_sent"`
	WriteErrors      int            `json:"write_errors"`
	CloseCodes       map[string]int `json:"close_codes"`
	Acks             int            `json:"acks"`
	AckedBytes       int64          `json:"acked_bytes"`
	SessionsOK       int            `json:"sessions_ok"`
	SegmentMessages  int            `json:"segment_messages"`
	ServerErrors     int            `json:"server_error_messages"`
	SendLateP50Ms    float64        `json:"send_late_p50_ms"`
	SendLateP99Ms    float64        `json:"send_late_p99_ms"`
	SendLateMaxMs    float64        `json:"send_late_max_ms"`
	AllConnectedAtNs int64          `json:"all_connected_at_ns"`
	StartAtNs        int64          `json:"start_at_ns"`
	FinishedAtNs     int64          `json:"finished_at_ns"`
	SampleErrors     []string       `json:"sample_errors"`
	LateSlots        [][2]int64     `json:"late_slots"`
}

var maxLateNs atomic.Int64

// Frames this client sent 20 ms or more after their scheduled time, by 100 ms slot of the schedule
// (slot 0 = -start-at): tells a late load generator from a late server.
const maxSlots = 6000

var lateSlots [maxSlots]atomic.Int64

func raiseFileLimit() {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err == nil {
		limit.Cur = limit.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "listen" {
		runListen(os.Args[2:]) // room listeners (listen.go)
		return
	}
	url := flag.String("url", "ws://127.0.0.1:8000/ws/audio", "WebSocket URL")
	n := flag.Int("n", 100, "concurrent clients")
	audioPath := flag.String("audio", "", "raw PCM16 mono audio, looped (default: silence)")
	startMsg := flag.String("start", "", "text message sent after the server's first message (empty: none)")
	startAt := flag.Int64("start-at", 0, "unix ns when streaming starts (0: now + ramp + 1 s)")
	ramp := flag.Float64("ramp", 2, "seconds over which the connections are spread")
	seconds := flag.Float64("seconds", 10, "streaming duration per client")
	frameBytes := flag.Int("frame-bytes", 640, "bytes per frame (640 = 20 ms of 16 kHz PCM16)")
	frameMs := flag.Int("frame-ms", 20, "frame interval")
	stampFrom := flag.String("stamp", "sent", "what each frame's stamp says: sent (the clock just before the write, so the server's lag is its own) or scheduled (the frame's deadline, so the lag also counts this client's own lateness)")
	closeTimeout := flag.Duration("close-timeout", 90*time.Second, "how long to wait for the server's close after done")
	seed := flag.Int64("seed", 1, "random seed (audio offsets)")
	sourceList := flag.String("source", "", "comma-separated local addresses to connect from, round robin (empty: the kernel's choice)")
	grpcTarget := flag.String("grpc", "", "HOST:PORT of the gRPC ingress: each client is a Translate call instead of a WebSocket (-start's mode and wait_for_results become its config)")
	flag.Parse()

	raiseFileLimit()
	audio := make([]byte, *frameBytes*50)
	if *audioPath != "" {
		data, err := os.ReadFile(*audioPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "audio:", err)
			os.Exit(2)
		}
		audio = data[:len(data)-len(data)%*frameBytes]
	}
	audioFrames := len(audio) / *frameBytes
	interval := time.Duration(*frameMs) * time.Millisecond
	framesPerClient := int(*seconds * 1000 / float64(*frameMs))

	launch := time.Now()
	if *startAt == 0 {
		*startAt = launch.UnixNano() + int64((*ramp+1)*1e9)
	}
	// Monotonic deadlines: the wall-clock start, expressed on this process's monotonic clock.
	startMono := launch.Add(time.Duration(*startAt - launch.UnixNano()))

	var sources []*net.TCPAddr
	for _, text := range strings.Split(*sourceList, ",") {
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		ip := net.ParseIP(text)
		if ip == nil {
			fmt.Fprintln(os.Stderr, "source: not an IP address:", text)
			os.Exit(2)
		}
		sources = append(sources, &net.TCPAddr{IP: ip})
	}
	dialerFor := func(i int) *websocket.Dialer {
		var local net.Addr
		if len(sources) > 0 {
			local = sources[i%len(sources)]
		}
		return &websocket.Dialer{
			HandshakeTimeout: 60 * time.Second,
			ReadBufferSize:   4096,
			WriteBufferSize:  2048,
			NetDial: func(network, addr string) (net.Conn, error) {
				return (&net.Dialer{Timeout: 60 * time.Second, LocalAddr: local}).Dial(network, addr)
			},
		}
	}
	rng := rand.New(rand.NewSource(*seed))
	offsets := make([]int, *n)
	for i := range offsets {
		offsets[i] = rng.Intn(audioFrames)
	}

	// openWebSocket: connected (the server's first message read, -start sent), its reader running until the close.
	openWebSocket := func(i int, r *result) (*websocket.Conn, chan struct{}, error) {
		conn, _, err := dialerFor(i).Dial(*url, nil)
		if err != nil {
			return nil, nil, err
		}
		if _, _, err := conn.ReadMessage(); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("first message: %w", err)
		}
		if *startMsg != "" {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(*startMsg)); err != nil {
				conn.Close()
				return nil, nil, fmt.Errorf("start: %w", err)
			}
		}
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			for {
				kind, data, err := conn.ReadMessage()
				if err != nil {
					var closeErr *websocket.CloseError
					if errors.As(err, &closeErr) {
						r.closeCode = closeErr.Code
					} else {
						r.readErr = err.Error()
					}
					return
				}
				if kind != websocket.TextMessage {
					continue
				}
				switch {
				case bytes.Contains(data, []byte(`"type":"segment"`)):
					r.segments++
				case bytes.Contains(data, []byte(`"type":"ack"`)):
					r.gotAck = true
					var ack struct {
						ReceivedBytes int64 `json:"received_bytes"`
					}
					if json.Unmarshal(data, &ack) == nil {
						r.ackedBytes = ack.ReceivedBytes
					}
				case bytes.Contains(data, []byte(`"type":"error"`)):
					r.errorMsg = string(data)
				}
			}
		}()
		return conn, readerDone, nil
	}
	var grpcConfig []byte
	if *startMsg != "" {
		start := struct {
			Mode           string `json:"mode"`
			WaitForResults *bool  `json:"wait_for_results"`
		}{Mode: "live"}
		if err := json.Unmarshal([]byte(*startMsg), &start); err != nil {
			fmt.Fprintln(os.Stderr, "start:", err)
			os.Exit(2)
		}
		grpcConfig = configMessage(start.Mode, start.WaitForResults == nil || *start.WaitForResults)
	}

	results := make([]result, *n)
	var connectedCount atomic.Int64
	var allConnectedAt atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := &results[i]
			time.Sleep(time.Until(launch.Add(time.Duration(float64(i) / float64(*n) * *ramp * 1e9))))
			var send func([]byte) error
			var sendDone func() error
			var waitClosed func()
			if *grpcTarget != "" {
				session, err := openGRPC(*grpcTarget, grpcConfig)
				if err != nil {
					r.connectErr = err.Error()
					return
				}
				defer session.close()
				readerDone := make(chan struct{})
				go func() { defer close(readerDone); session.read(r) }()
				send = func(frame []byte) error { return session.send(audioMessage(frame)) } // a new message: grpc may hold it after SendMsg
				sendDone = session.done
				waitClosed = func() {
					select {
					case <-readerDone:
					case <-time.After(*closeTimeout):
						r.readErr = "no status within the close timeout"
					}
				}
			} else {
				conn, readerDone, err := openWebSocket(i, r)
				if err != nil {
					r.connectErr = err.Error()
					return
				}
				defer conn.Close()
				send = func(frame []byte) error { return conn.WriteMessage(websocket.BinaryMessage, frame) }
				sendDone = func() error { return conn.WriteMessage(websocket.TextMessage, []byte(`{"event":"done"}`)) }
				waitClosed = func() {
					_ = conn.SetReadDeadline(time.Now().Add(*closeTimeout))
					<-readerDone
				}
			}
			r.connected = true
			if connectedCount.Add(1) == int64(*n) {
				allConnectedAt.Store(time.Now().UnixNano())
			}

			phase := time.Duration(int64(interval) * int64(i) / int64(*n))
			frame := make([]byte, *frameBytes)
			position := offsets[i]
			for k := 0; k < framesPerClient; k++ {
				offset := phase + time.Duration(k)*interval
				deadline := startMono.Add(offset)
				time.Sleep(time.Until(deadline))
				late := time.Since(deadline)
				recordLate(late)
				if late >= 20*time.Millisecond {
					if slot := int(offset / (100 * time.Millisecond)); slot < maxSlots {
						lateSlots[slot].Add(1)
					}
				}
				if int64(late) > maxLateNs.Load() {
					maxLateNs.Store(int64(late))
				}
				source := ((position + k) % audioFrames) * *frameBytes
				copy(frame, audio[source:source+*frameBytes])
				// Every 20 ms of the frame gets the stamp (so larger frames look the same to the VAD as
				// 20 ms ones; one stamp per 100 ms was enough to make webrtcvad hear speech in every pause).
				stamp := *startAt + int64(offset)
				if *stampFrom == "sent" {
					stamp = time.Now().UnixNano()
				}
				for sub := 0; sub+640 <= len(frame); sub += 640 {
					stampFrame(frame[sub:], stamp)
				}
				if err := send(frame); err != nil {
					r.writeErr = err.Error()
					break
				}
				r.framesSent++
			}
			if r.writeErr == "" {
				if err := sendDone(); err != nil {
					r.writeErr = "done: " + err.Error()
				}
			}
			waitClosed()
		}(i)
	}
	wg.Wait()

	s := summary{
		N:                *n,
		FramesPerClient:  framesPerClient,
		FramesExpected:   int64(framesPerClient) * int64(*n),
		CloseCodes:       map[string]int{},
		SendLateP50Ms:    latePercentile(0.50),
		SendLateP99Ms:    latePercentile(0.99),
		SendLateMaxMs:    float64(maxLateNs.Load()) / 1e6,
		AllConnectedAtNs: allConnectedAt.Load(),
		StartAtNs:        *startAt,
		FinishedAtNs:     time.Now().UnixNano(),
		SampleErrors:     []string{},
	}
	samples := map[string]bool{}
	note := func(text string) {
		if text != "" && len(samples) < 5 && !samples[text] {
			samples[text] = true
			s.SampleErrors = append(s.SampleErrors, text)
		}
	}
	for i := range results {
		r := &results[i]
		if r.connected {
			s.Connected++
		} else {
			s.ConnectErrors++
			note(r.connectErr)
			continue
		}
		s.FramesSent += int64(r.framesSent)
		if r.writeErr != "" {
			s.WriteErrors++
			note("write: " + r.writeErr)
		}
		code := "none"
		if r.status != "" {
			code = r.status
		} else if r.closeCode != 0 {
			code = fmt.Sprint(r.closeCode)
		} else {
			note("read: " + r.readErr)
		}
		s.CloseCodes[code]++
		if r.gotAck {
			s.Acks++
			s.AckedBytes += r.ackedBytes
		}
		closedNormally := r.closeCode == websocket.CloseNormalClosure || r.status == "OK"
		if r.gotAck && closedNormally && r.framesSent == framesPerClient {
			s.SessionsOK++
		}
		s.SegmentMessages += r.segments
		if r.errorMsg != "" {
			s.ServerErrors++
			note("server: " + r.errorMsg)
		}
	}
	sort.Strings(s.SampleErrors)
	s.LateSlots = [][2]int64{}
	for slot := range lateSlots {
		if count := lateSlots[slot].Load(); count > 0 {
			s.LateSlots = append(s.LateSlots, [2]int64{int64(slot), count})
		}
	}
	out, _ := json.Marshal(s)
	fmt.Println(string(out))
}
