package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func TestWindowsSlide(t *testing.T) {
	c := NewLocalCounters(1000)
	ctx := context.Background()
	obs := func(at time.Duration, msgs, rcpts int) Totals {
		t.Helper()
		tot, err := c.Observe(ctx, Observation{Login: "a", Messages: msgs, Recipients: rcpts}, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return tot
	}
	steps := []struct {
		at         time.Duration
		msgs, rcpt int
		want       [3]int // messages: minute, hour, day
		wantRcpt   [3]int
	}{
		{0, 1, 5, [3]int{1, 1, 1}, [3]int{5, 5, 5}},
		{30 * time.Second, 1, 1, [3]int{2, 2, 2}, [3]int{6, 6, 6}},
		{59 * time.Second, 0, 0, [3]int{2, 2, 2}, [3]int{6, 6, 6}},
		// Bucketed minute window: the first bucket [0,10s) has left by 61s.
		{61 * time.Second, 0, 0, [3]int{1, 2, 2}, [3]int{1, 6, 6}},
		{91 * time.Second, 0, 0, [3]int{0, 2, 2}, [3]int{0, 6, 6}},
		{61 * time.Minute, 1, 1, [3]int{1, 1, 3}, [3]int{1, 1, 7}},
		{25 * time.Hour, 0, 0, [3]int{0, 0, 0}, [3]int{0, 0, 0}},
	}
	for _, s := range steps {
		got := obs(s.at, s.msgs, s.rcpt)
		if got.Messages != s.want || got.Recipients != s.wantRcpt {
			t.Errorf("at %v: messages %v recipients %v; want %v %v", s.at, got.Messages, got.Recipients, s.want, s.wantRcpt)
		}
	}
}

func TestDistinctExpiresAndIsBounded(t *testing.T) {
	c := NewLocalCounters(1000)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		c.Observe(ctx, Observation{Login: "a", Messages: 1, ClientIP: uint64(i + 1), ClientNet: 7, SenderDomain: 9}, t0.Add(time.Duration(i)*time.Minute))
	}
	tot, _ := c.Observe(ctx, Observation{Login: "a"}, t0.Add(5*time.Minute))
	if tot.ClientIPs != 5 || tot.ClientNetworks != 1 || tot.SenderDomains != 1 {
		t.Fatalf("distinct = %+v; want 5 IPs, 1 net, 1 domain", tot)
	}
	// 61 minutes after the first value, it has left the hour.
	tot, _ = c.Observe(ctx, Observation{Login: "a"}, t0.Add(61*time.Minute))
	if tot.ClientIPs != 3 {
		t.Fatalf("IPs after an hour = %d; want 3", tot.ClientIPs)
	}
	for i := 0; i < 1000; i++ {
		tot, _ = c.Observe(ctx, Observation{Login: "b", Messages: 1, ClientIP: uint64(i + 1)}, t0.Add(time.Duration(i)*time.Second))
	}
	if tot.ClientIPs != maxDistinct {
		t.Fatalf("IPs = %d; want capped at %d", tot.ClientIPs, maxDistinct)
	}
	sh := &c.shards[shardIndex("b")]
	if n := len(sh.m["b"].IPs); n != maxDistinct {
		t.Fatalf("stored IPs = %d; want %d", n, maxDistinct)
	}
}

func TestEviction(t *testing.T) {
	ctx := context.Background()
	t.Run("idle logins swept", func(t *testing.T) {
		c := NewLocalCounters(10000)
		for i := 0; i < 100; i++ {
			c.Observe(ctx, Observation{Login: fmt.Sprint("old", i), Messages: 1}, t0)
		}
		c.Observe(ctx, Observation{Login: "fresh", Messages: 1}, t0.Add(24*time.Hour))
		if n := c.Sweep(t0.Add(24 * time.Hour)); n != 0 {
			t.Fatalf("swept %d logins within the day window", n)
		}
		if n := c.Sweep(t0.Add(26 * time.Hour)); n != 100 {
			t.Fatalf("swept %d; want 100", n)
		}
		if c.Len() != 1 {
			t.Fatalf("Len = %d; want 1 (fresh)", c.Len())
		}
	})
	t.Run("bounded by max logins, least recent first", func(t *testing.T) {
		const maxLogins = 3200
		c := NewLocalCounters(maxLogins)
		c.Observe(ctx, Observation{Login: "busy", Messages: 1}, t0)
		for i := 0; i < 20000; i++ {
			now := t0.Add(time.Duration(i) * time.Second)
			c.Observe(ctx, Observation{Login: fmt.Sprint("spray", i), Messages: 1}, now)
			if i%100 == 0 {
				c.Observe(ctx, Observation{Login: "busy", Messages: 1}, now)
			}
		}
		if n := c.Len(); n > maxLogins {
			t.Fatalf("Len = %d; want at most %d", n, maxLogins)
		}
		sh := &c.shards[shardIndex("busy")]
		if sh.m["busy"] == nil {
			t.Fatal("a recently active login was evicted before idle ones")
		}
	})
}

func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	c := NewLocalCounters(1000)
	c.Observe(ctx, Observation{Login: "a", Messages: 1, Recipients: 4, ClientIP: 3}, t0)
	c2 := NewLocalCounters(1000)
	data, err := json.Marshal(c.snapshot(t0.Add(-time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]loginState
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	c2.restore(back)
	if n := len(c.snapshot(t0.Add(time.Hour))); n != 0 {
		t.Fatalf("snapshot since a later time kept %d idle logins", n)
	}
	tot, _ := c2.Observe(ctx, Observation{Login: "a"}, t0.Add(time.Second))
	if tot.Messages[0] != 1 || tot.Recipients[2] != 4 || tot.ClientIPs != 1 {
		t.Fatalf("restored totals = %+v", tot)
	}
	c2.restore(map[string]loginState{"": {}, "x": {IPs: make(distinct, maxDistinct+1)}})
	if c2.Len() != 1 {
		t.Fatalf("invalid snapshot entries restored: Len = %d", c2.Len())
	}
}
