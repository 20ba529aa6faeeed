// loadgen listen: N room listeners on /ws/listen, recording when each result reached each of them.
//
// Used by bench/room_fanout.py. Listener i connects to the i-th URL of -urls (round robin: listeners split over
// gateways), joins room "<-room-prefix>-<i % -rooms>" in language -langs[(i / (rooms * gateways)) % len] (each
// room's languages split evenly on every gateway; voice per -voice),
// and reads until -seconds after every listener has connected. Once all are connected it prints "ready" on a
// line of its own on stdout, so the bench starts publishing only then. For every message that carries an
// event_id it keeps (listener, gateway, CLOCK_REALTIME ns at receipt, type, event_id, history) and writes them,
// tab-separated, to -out at the end; then it prints one JSON object with the totals. The event_id is found
// with a byte search from the end of the message (the gateway writes it near the end), so a 150 KB audio
// message is not parsed: the client stays cheap next to the gateway it measures. A binary frame (a spoken
// translation, -audio opus or wav) is searched in its JSON header only.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

type arrival struct {
	ns      int64
	kind    string
	eventID string
	history bool
}

type listenSummary struct {
	N             int            `json:"n"`
	Connected     int            `json:"connected"`
	ConnectErrors int            `json:"connect_errors"`
	CloseCodes    map[string]int `json:"close_codes"`
	Messages      int64          `json:"messages"`
	Bytes         int64          `json:"bytes"`
	ReadyAtNs     int64          `json:"ready_at_ns"`
	SampleErrors  []string       `json:"sample_errors"`
}

func field(message []byte, name string, fromEnd bool) string {
	key := []byte(`"` + name + `":"`)
	var at int
	if fromEnd {
		at = bytes.LastIndex(message, key)
	} else {
		at = bytes.Index(message, key)
	}
	if at < 0 {
		return ""
	}
	rest := message[at+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return string(rest[:end])
}

func runListen(argv []string) {
	flags := flag.NewFlagSet("listen", flag.ExitOnError)
	urls := flags.String("urls", "ws://127.0.0.1:8000", "comma-separated gateway base URLs (ws://host:port)")
	n := flags.Int("n", 100, "listeners")
	rooms := flags.Int("rooms", 1, "rooms the listeners are spread over")
	roomPrefix := flags.String("room-prefix", "bench", "room ids: <prefix>-<k>")
	langs := flags.String("langs", "es,pt", "languages, comma-separated, spread over the listeners")
	voice := flags.Bool("voice", true, "listeners want the spoken translation")
	audio := flags.String("audio", "opus", "how spoken translations come: opus, wav (binary frames), json (base64)")
	ramp := flags.Float64("ramp", 3, "seconds over which the connections are spread")
	seconds := flags.Float64("seconds", 30, "read this long after every listener has connected")
	out := flags.String("out", "arrivals.tsv", "where the arrivals go")
	reference := flags.String("reference-url", "", "a gateway of its own for the reference listeners: one per room and language, after the N (gateway index = the number of -urls)")
	flags.Parse(argv)

	raiseFileLimit()
	bases := strings.Split(*urls, ",")
	languages := strings.Split(*langs, ",")
	listeners := *n
	if *reference != "" {
		listeners += *rooms * len(languages)
	}
	var (
		mu        sync.Mutex
		summary   = listenSummary{N: listeners, CloseCodes: map[string]int{}}
		messages  atomic.Int64
		byteCount atomic.Int64
		connected sync.WaitGroup
		done      sync.WaitGroup
	)
	records := make([][]arrival, listeners)
	conns := make([]*websocket.Conn, listeners)
	sampleError := func(text string) {
		mu.Lock()
		if len(summary.SampleErrors) < 10 {
			summary.SampleErrors = append(summary.SampleErrors, text)
		}
		mu.Unlock()
	}
	dialer := &websocket.Dialer{
		HandshakeTimeout: 60 * time.Second,
		ReadBufferSize:   65536,
		WriteBufferSize:  1024,
		NetDial: func(network, addr string) (net.Conn, error) {
			return net.DialTimeout(network, addr, 60*time.Second)
		},
	}
	start := time.Now()
	connected.Add(listeners)
	done.Add(listeners)
	for i := 0; i < listeners; i++ {
		go func(i int) {
			defer done.Done()
			time.Sleep(time.Until(start.Add(time.Duration(float64(i) / float64(*n) * *ramp * 1e9))))
			room := fmt.Sprintf("%s-%d", *roomPrefix, i%*rooms)
			lang := languages[(i/(*rooms*len(bases)))%len(languages)]
			base := bases[i%len(bases)]
			if i >= *n { // a reference listener: room (i-n) % rooms, language (i-n) / rooms
				room = fmt.Sprintf("%s-%d", *roomPrefix, (i-*n)%*rooms)
				lang = languages[(i-*n) / *rooms]
				base = *reference
			}
			url := fmt.Sprintf("%s/ws/listen?room=%s&lang=%s", base, room, lang)
			if !*voice {
				url += "&voice=0"
			}
			url += "&audio=" + *audio
			conn, _, err := dialer.Dial(url, nil)
			if err != nil {
				mu.Lock()
				summary.ConnectErrors++
				mu.Unlock()
				sampleError("connect: " + err.Error())
				connected.Done()
				return
			}
			conn.SetReadLimit(-1)
			_, first, err := conn.ReadMessage()
			if err != nil || !bytes.Contains(first, []byte(`"connected"`)) {
				sampleError(fmt.Sprintf("first message: %v %.200s", err, first))
				mu.Lock()
				summary.ConnectErrors++
				mu.Unlock()
				conn.Close()
				connected.Done()
				return
			}
			mu.Lock()
			summary.Connected++
			conns[i] = conn
			mu.Unlock()
			connected.Done()
			mine := make([]arrival, 0, 256)
			for {
				kind, message, err := conn.ReadMessage()
				now := time.Now().UnixNano()
				if err != nil {
					code := "read error"
					if closeErr, ok := err.(*websocket.CloseError); ok {
						code = fmt.Sprint(closeErr.Code)
					} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
						code = "end of run"
					}
					mu.Lock()
					summary.CloseCodes[code]++
					mu.Unlock()
					break
				}
				messages.Add(1)
				byteCount.Add(int64(len(message)))
				if kind == websocket.BinaryMessage && len(message) >= 4 {
					// a spoken translation: its header (a 4-byte big-endian length, then JSON), the audio after it
					length := int(binary.BigEndian.Uint32(message[:4]))
					message = message[4:min(len(message), 4+length)]
				}
				id := field(message, "event_id", true)
				if id == "" {
					continue // listening, warning without an event, ...
				}
				mine = append(mine, arrival{
					ns:      now,
					kind:    field(message, "type", false),
					eventID: id,
					history: bytes.Contains(message[len(message)-min(len(message), 200):], []byte(`"history":true`)),
				})
			}
			records[i] = mine
		}(i)
	}
	connected.Wait()
	deadline := time.Now().Add(time.Duration(*seconds * 1e9))
	mu.Lock()
	for _, conn := range conns {
		if conn != nil {
			conn.SetReadDeadline(deadline)
		}
	}
	summary.ReadyAtNs = time.Now().UnixNano()
	mu.Unlock()
	fmt.Println("ready")
	os.Stdout.Sync()
	done.Wait()
	for _, conn := range conns {
		if conn != nil {
			conn.Close()
		}
	}

	file, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "out:", err)
		os.Exit(2)
	}
	writer := bufio.NewWriterSize(file, 1<<20)
	for i, mine := range records {
		gateway := i % len(bases)
		if i >= *n {
			gateway = len(bases)
		}
		for _, a := range mine {
			history := 0
			if a.history {
				history = 1
			}
			fmt.Fprintf(writer, "%d\t%d\t%d\t%s\t%s\t%d\n", i, gateway, a.ns, a.kind, a.eventID, history)
		}
	}
	writer.Flush()
	file.Close()
	summary.Messages = messages.Load()
	summary.Bytes = byteCount.Load()
	encoded, _ := json.Marshal(summary)
	fmt.Println(string(encoded))
}
