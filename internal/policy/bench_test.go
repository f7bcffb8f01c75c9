package policy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// BenchmarkDecide measures the engine alone with the default rules and
// 2,000 logins.
func BenchmarkDecide(b *testing.B) {
	cfg := DefaultConfig()
	e, _ := newTestEngine(cfg)
	reqs := make([]*Request, 4096)
	for i := range reqs {
		reqs[i] = rcpt(fmt.Sprintf("user%d@bench.test", i%2000), fmt.Sprint(i), "x@example.org")
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Decide(ctx, reqs[i%len(reqs)], t0.Add(time.Duration(i)*time.Microsecond))
	}
}

// BenchmarkParse measures ReadRequest on a typical Postfix request.
func BenchmarkParse(b *testing.B) {
	data := []byte(postfixRCPT)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseRequest(data, DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServerLoopback sends requests over 16 loopback connections.
func BenchmarkServerLoopback(b *testing.B) {
	cfg := DefaultConfig()
	e, _ := newTestEngine(cfg)
	s := &Server{Engine: e, Log: discardLog(), Metrics: NewMetrics(nil), MaxConns: 64}
	ln, err := Listen("tcp:127.0.0.1:0", "", "")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx, ln)
	defer s.Close()
	const conns = 16
	var wg sync.WaitGroup
	per := b.N/conns + 1
	b.ReportAllocs()
	b.ResetTimer()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			var buf []byte
			for i := 0; i < per; i++ {
				r := rcpt(fmt.Sprintf("user%d@bench.test", (w*per+i)%2000), fmt.Sprint(w, ".", i), "x@example.org")
				buf = r.AppendEncode(buf[:0])
				c.Write(buf)
				br.ReadString('\n')
				br.ReadString('\n')
			}
		}(w)
	}
	wg.Wait()
}
