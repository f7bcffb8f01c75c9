package respond

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/testlab"
)

// BenchmarkLabRespond measures respond --yes on a lab queue of 2,000 spam
// messages of one login (one SMTP session) beside 200 legitimate ones:
//
//	go test -run XXX -bench LabRespond -benchtime 1x ./internal/respond
func BenchmarkLabRespond(b *testing.B) {
	const spam, legit = 2000, 200
	for range b.N {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		var out bytes.Buffer
		lab, env := labEnvB(b, ctx, &out)
		fill := func(login string, n int, ip string) {
			c, err := lab.Dial(ctx, testlab.DialOpts{LocalIP: ip})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Auth(ctx, login, testlab.DefaultUsers[login]); err != nil {
				b.Fatal(err)
			}
			for i := range n {
				c.Mail(ctx, fmt.Sprintf("promo%d@deals%d.example", i, i%50))
				c.Rcpt(ctx, fmt.Sprintf("v%d@example.org", i))
				if _, err := c.Data(ctx, []byte("Subject: pills\r\n\r\nbuy\r\n")); err != nil {
					b.Fatal(err)
				}
			}
			c.Quit(ctx)
		}
		start := time.Now()
		fill("alice@lab.test", spam, "127.0.0.66")
		fill("bob@lab.test", legit, "127.0.0.10")
		if _, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool {
			c := testlab.QueueCounts(es)
			return len(es) == spam+legit && c["active"] == 0 && c["incoming"] == 0
		}); err != nil {
			b.Fatal(err)
		}
		b.Logf("queued %d messages in %v", spam+legit, time.Since(start))
		b.StartTimer()
		t0 := time.Now()
		last := t0
		env.cfg.Hook = func(point string) error {
			b.Logf("  step %s: %v", point, time.Since(last).Round(time.Millisecond))
			last = time.Now()
			return nil
		}
		sum, err := env.Run(ctx, []Target{{Login: "alice@lab.test"}}, true)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(t0)
		env.cfg.Hook = nil
		o := sum.Outcomes[0]
		b.Logf("respond --yes: %v; held %d, exported %d, deleted %d (%.1f ms a message)", el, o.Held, o.Exported, o.Deleted, float64(el.Milliseconds())/float64(spam))
		b.StopTimer()
		t1 := time.Now()
		if _, err := env.Run(ctx, []Target{{Login: "alice@lab.test"}}, true); err != nil {
			b.Fatal(err)
		}
		b.Logf("second respond --yes (nothing to do): %v", time.Since(t1))
		cancel()
	}
}
