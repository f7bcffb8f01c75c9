// Command loadgen sends a stream of Postfix policy requests (RCPT stage,
// one recipient per message, 2,000 SASL logins by default) over N
// concurrent connections, one request in flight per connection as Postfix
// does, and prints requests/s, latency percentiles and the answers seen as
// one JSON line. The stream depends only on the flags, so two services get
// the same requests.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type result struct {
	Addr        string         `json:"addr"`
	Conns       int            `json:"conns"`
	ConnsServed int            `json:"conns_served"`
	Requests    int            `json:"requests"`
	Errors      int            `json:"errors"`
	Seconds     float64        `json:"seconds"`
	RPS         float64        `json:"rps"`
	P50us       float64        `json:"p50_us"`
	P99us       float64        `json:"p99_us"`
	MaxUs       float64        `json:"max_us"`
	Actions     map[string]int `json:"actions"`
	FirstError  string         `json:"first_error,omitempty"`
}

type worker struct {
	lat     []time.Duration
	actions map[string]int
	served  bool
	errs    int
	err     error
}

func main() {
	addr := flag.String("addr", "127.0.0.1:10040", "policy service address (host:port)")
	conns := flag.Int("conns", 16, "concurrent connections")
	dur := flag.Duration("duration", 5*time.Second, "how long to send")
	logins := flag.Int("logins", 2000, "distinct SASL logins in the stream")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	rate := flag.Float64("rate", 0, "total requests/s to offer, spread over the connections (0: as fast as answers come); the achieved req/s shows whether the service kept up")
	fields := flag.Bool("fields", false, "print space-separated fields instead of JSON: rps p50_us p99_us conns_served errors dunno deferred requests")
	flag.Parse()

	workers := make([]*worker, *conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(*dur)
	for i := range workers {
		w := &worker{actions: map[string]int{}}
		workers[i] = w
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			var interval time.Duration
			if *rate > 0 {
				interval = time.Duration(float64(*conns) / *rate * float64(time.Second))
			}
			w.run(*addr, id, *logins, start, deadline, *timeout, interval)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	res := result{Addr: *addr, Conns: *conns, Seconds: elapsed, Actions: map[string]int{}}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Errors += w.errs
		if w.served {
			res.ConnsServed++
		}
		for k, v := range w.actions {
			res.Actions[k] += v
		}
		if w.err != nil && res.FirstError == "" {
			res.FirstError = w.err.Error()
		}
	}
	res.Requests = len(all)
	res.RPS = float64(len(all)) / elapsed
	if len(all) > 0 {
		slices.Sort(all)
		pct := func(p float64) float64 {
			return float64(all[min(len(all)-1, int(p*float64(len(all))))].Nanoseconds()) / 1e3
		}
		res.P50us, res.P99us, res.MaxUs = pct(0.50), pct(0.99), float64(all[len(all)-1].Nanoseconds())/1e3
	}
	if *fields {
		fmt.Printf("%.0f %.0f %.0f %d %d %d %d %d\n", res.RPS, res.P50us, res.P99us, res.ConnsServed, res.Errors,
			res.Actions["DUNNO"], res.Actions["DEFER_IF_PERMIT"], res.Requests)
	} else {
		json.NewEncoder(os.Stdout).Encode(res)
	}
	if res.FirstError != "" {
		fmt.Fprintln(os.Stderr, "loadgen: first error:", res.FirstError)
	}
	if res.ConnsServed != *conns {
		os.Exit(1)
	}
}

// appendRequest builds request n of connection id.
func appendRequest(b []byte, id, n, logins int) []byte {
	login := (id*7919 + n) % logins
	b = append(b, "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=10.0."...)
	b = strconv.AppendInt(b, int64(login/250), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(login%250+1), 10)
	b = append(b, "\nclient_name=unknown\nreverse_client_name=unknown\nhelo_name=client\nsasl_method=PLAIN\nsasl_username=user"...)
	b = strconv.AppendInt(b, int64(login), 10)
	b = append(b, "@bench.test\nsender=user"...)
	b = strconv.AppendInt(b, int64(login), 10)
	b = append(b, "@bench.test\nrecipient=rcpt"...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "@example.org\nrecipient_count=0\nqueue_id=\ninstance="...)
	b = strconv.AppendInt(b, int64(id), 16)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(n), 16)
	b = append(b, ".0\nsize=0\nserver_address=127.0.0.1\nserver_port=587\n\n"...)
	return b
}

func (w *worker) run(addr string, id, logins int, start, deadline time.Time, timeout, interval time.Duration) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		w.errs++
		w.err = err
		return
	}
	defer c.Close()
	br := bufio.NewReader(c)
	buf := make([]byte, 0, 512)
	w.lat = make([]time.Duration, 0, 1<<16)
	// Paced connections start spread over one interval.
	next := start
	if interval > 0 {
		next = start.Add(time.Duration(int64(interval) * int64(id%64) / 64))
	}
	for n := 0; time.Now().Before(deadline); n++ {
		buf = appendRequest(buf[:0], id, n, logins)
		t := time.Now()
		if interval > 0 {
			if d := next.Sub(t); d > 0 {
				time.Sleep(d)
			}
			// Latency is measured from the actual send: timer overshoot
			// is the load generator's, not the service's. A service
			// slower than the pace shows in the achieved req/s.
			t = time.Now()
			next = next.Add(interval)
		}
		c.SetDeadline(t.Add(timeout))
		if _, err := c.Write(buf); err != nil {
			w.errs++
			w.err = err
			return
		}
		action, err := readReply(br)
		if err != nil {
			w.errs++
			w.err = err
			return
		}
		w.lat = append(w.lat, time.Since(t))
		w.served = true
		w.actions[action]++
	}
}

// readReply reads "action=..." and the empty line; it returns the action word.
func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	rest, ok := strings.CutPrefix(line, "action=")
	if !ok {
		return "", fmt.Errorf("unexpected reply line %q", line)
	}
	word, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	empty, err := br.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read reply end: %w", err)
	}
	if empty != "\n" {
		return "", errors.New("reply not ended by an empty line")
	}
	return strings.ToUpper(word), nil
}
