package policy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/saslguard/saslguard/internal/store"
)

// redisServer is a real redis-server child process on a loopback port.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis starts redis-server, skipping the test loudly when it is not
// installed (and failing when CI is set: CI must test this).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not installed; CI must run the Redis tests (apt-get install redis-server)")
		}
		t.Skip("SKIPPING: redis-server not installed (apt-get install redis-server)")
	}
	r := &redisServer{t: t, port: freePort(t)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not come up")
		}
	}
}

func (r *redisServer) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

func TestRedisCountersMatchLocal(t *testing.T) {
	rs := startRedis(t)
	rc := NewRedis(rs.addr(), "t:", time.Second, discardLog(), NewMetrics(nil))
	defer rc.Close()
	lc := NewLocalCounters(1000)
	ctx := context.Background()
	steps := []struct {
		at  time.Duration
		obs Observation
	}{
		{0, Observation{Messages: 1, Recipients: 5, ClientIP: 1, ClientNet: 2, SenderDomain: 3, Foreign: 1}},
		{30 * time.Second, Observation{Messages: 1, Recipients: 1, ClientIP: 4, ClientNet: 2, SenderDomain: 3}},
		{61 * time.Second, Observation{Recipients: 2}},
		{10 * time.Minute, Observation{Messages: 1, Recipients: 1, ClientIP: 5, ClientNet: 6, SenderDomain: 7, Foreign: 1}},
		{61 * time.Minute, Observation{Messages: 1, Recipients: 1}},
		{2 * time.Hour, Observation{}},
		{25 * time.Hour, Observation{}},
	}
	for _, s := range steps {
		s.obs.Login = "a@lab.test"
		now := t0.Add(s.at)
		want, _ := lc.Observe(ctx, s.obs, now)
		got, err := rc.Observe(ctx, s.obs, now)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("at %v: redis %+v; local %+v", s.at, got, want)
		}
	}
	// Hostile login: it is a key part, never code.
	evil := Observation{Login: "x}'; redis.call('FLUSHALL') --\r\n", Messages: 1}
	if _, err := rc.Observe(ctx, evil, t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := rc.Observe(ctx, Observation{Login: "a@lab.test"}, t0.Add(25*time.Hour)); got != (Totals{}) {
		t.Fatalf("after a day: %+v", got)
	}
}

func TestRedisDownFailsOpenAndRecovers(t *testing.T) {
	rs := startRedis(t)
	m := NewMetrics(nil)
	rc := NewRedis(rs.addr(), "t:", 200*time.Millisecond, discardLog(), m)
	defer rc.Close()
	ctx := context.Background()
	if _, err := rc.Observe(ctx, Observation{Login: "a", Messages: 1}, t0); err != nil {
		t.Fatal(err)
	}
	rs.stop()
	if _, err := rc.Observe(ctx, Observation{Login: "a", Messages: 1}, t0.Add(time.Second)); err == nil {
		t.Fatal("no error with redis stopped")
	}
	start := time.Now()
	if _, err := rc.Observe(ctx, Observation{Login: "a", Messages: 1}, t0.Add(1500*time.Millisecond)); err != ErrRedisDown {
		t.Fatalf("within back-off: %v; want ErrRedisDown", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("back-off path took %v", d)
	}
	if rc.Up() {
		t.Fatal("Up() after failure")
	}
	rs.start()
	if _, err := rc.Observe(ctx, Observation{Login: "a", Messages: 1}, t0.Add(3*time.Second)); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if !rc.Up() {
		t.Fatal("not Up() after recovery")
	}
}

func fleetConfig(redisAddr, stateDir string) Config {
	cfg := testConfig()
	cfg.Listen = []string{"tcp:127.0.0.1:0"}
	cfg.Redis = redisAddr
	cfg.RedisPrefix = "fleet:"
	cfg.StateDir = stateDir
	cfg.SyncInterval = Duration{Duration: time.Hour} // the test calls Sync itself
	return cfg
}

// TestFleet runs two policy services (two MTAs) sharing one redis-server.
func TestFleet(t *testing.T) {
	rs := startRedis(t)
	clock := &fakeClock{t: t0}
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startService(t, fleetConfig(rs.addr(), dirA), clock)
	defer a.Stop()
	b := startService(t, fleetConfig(rs.addr(), dirB), clock)
	defer b.Stop()
	ca := dialPolicy(t, a.Addrs()[0].String())
	cb := dialPolicy(t, b.Addrs()[0].String())
	const dunno = "action=DUNNO"
	deferred := "action=DEFER_IF_PERMIT " + testConfig().Replies.DeferIfPermit
	blocked := "action=REJECT " + testConfig().Replies.Blocked

	// 1. A login spreading over both MTAs is limited on the total
	// (messages_per_minute = 3): two messages on A, the second on B is the
	// third overall, the next one on either is over.
	steps := []struct {
		c    *client
		want string
	}{{ca, dunno}, {cb, dunno}, {ca, dunno}, {cb, deferred}, {ca, deferred}}
	for i, s := range steps {
		if got := s.c.ask(rcpt("spray@lab.test", fmt.Sprint("s", i), "x@e.test")); got != s.want {
			t.Fatalf("spray message %d: %q; want %q", i, got, s.want)
		}
	}

	// 2. A compromised login caught on A is refused by B too.
	for i, ip := range []string{"192.0.2.1", "198.51.100.1", "203.0.113.1"} {
		r := rcpt("victim@lab.test", fmt.Sprint("v", i), "x@e.test")
		r.ClientAddress = ip
		ca.ask(r)
	}
	waitFor(t, "block in redis", func() bool {
		bl, err := a.redis.Blocks(ctx, clock.Now())
		_, ok := bl["victim@lab.test"]
		return err == nil && ok
	})
	b.Sync(ctx)
	if got := cb.ask(rcpt("victim@lab.test", "v9", "x@e.test")); got != blocked {
		t.Fatalf("B on a login blocked by A: %q", got)
	}

	// 3. Redis down: both keep refusing the blocked login, others flow
	// (counters fail open: even spray@ is let through).
	rs.stop()
	clock.Add(2 * time.Second)
	a.Sync(ctx)
	b.Sync(ctx)
	for _, c := range []*client{ca, cb} {
		if got := c.ask(rcpt("victim@lab.test", "d1", "x@e.test")); got != blocked {
			t.Fatalf("redis down, blocked login: %q", got)
		}
		for i := 0; i < 5; i++ {
			if got := c.ask(rcpt("spray@lab.test", fmt.Sprint("d", i), "x@e.test")); got != dunno {
				t.Fatalf("redis down, other login: %q; want DUNNO (fail open)", got)
			}
		}
	}
	// A restart while Redis is down keeps the blocks (store on A, the
	// snapshot's copy of Redis's blocks on B).
	b.Stop()
	b = startService(t, fleetConfig(rs.addr(), dirB), clock)
	defer b.Stop()
	cb = dialPolicy(t, b.Addrs()[0].String())
	if got := cb.ask(rcpt("victim@lab.test", "d2", "x@e.test")); got != blocked {
		t.Fatalf("B restarted while redis down: %q", got)
	}
	if got := testutilCount(a.metrics.redisErrors.WithLabelValues("blocks_read")); got == 0 {
		t.Fatal("redis errors not counted")
	}
	if got := testutilCount(a.metrics.failOpen); got != 5 {
		t.Fatalf("fail-open requests on A = %v; want 5", got)
	}

	// 4. Redis back (empty: no persistence): sharing resumes and the
	// blocks are put back.
	rs.start()
	clock.Add(2 * time.Second)
	a.Sync(ctx)
	b.Sync(ctx)
	if got := cb.ask(rcpt("victim@lab.test", "r1", "x@e.test")); got != blocked {
		t.Fatalf("after redis restart, B: %q", got)
	}
	bl, err := a.redis.Blocks(ctx, clock.Now())
	if _, ok := bl["victim@lab.test"]; err != nil || !ok {
		t.Fatalf("block not pushed back to the new redis: %v %v", bl, err)
	}
	clock.Add(2 * time.Minute)
	steps = []struct {
		c    *client
		want string
	}{{cb, dunno}, {ca, dunno}, {cb, dunno}, {ca, deferred}}
	for i, s := range steps {
		if got := s.c.ask(rcpt("spray2@lab.test", fmt.Sprint("r", i), "x@e.test")); got != s.want {
			t.Fatalf("after restart, message %d: %q; want %q", i, got, s.want)
		}
	}

	// 5. A person lifts the block fleet-wide (account enable: Redis, then
	// the store of the MTA that blocked): both let the login send again.
	if err := a.redis.RemoveBlock(ctx, "victim@lab.test", clock.Now()); err != nil {
		t.Fatal(err)
	}
	b.Sync(ctx)
	a.Sync(ctx)
	for name, c := range map[string]*client{"A": ca, "B": cb} {
		if got := c.ask(rcpt("victim@lab.test", "e"+name, "x@e.test")); got != dunno {
			t.Fatalf("%s after enable: %q", name, got)
		}
	}
	st, err := store.OpenDir(dirA)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, ok, _ := st.IsBlocked(ctx, "victim@lab.test"); ok {
		t.Fatal("A's store still has the block lifted fleet-wide")
	}
	incs, err := st.ListIncidents(ctx, store.IncidentFilter{Login: "victim@lab.test"})
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents on A: %+v %v", incs, err)
	}
	_, acts, _ := st.GetIncident(ctx, incs[0].ID)
	if len(acts) != 2 || acts[1].Result != "block lifted elsewhere in the fleet" {
		t.Fatalf("incident actions on A: %+v", acts)
	}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !f(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRedisCountersMatchLocalRandom drives both implementations with the
// same pseudo-random stream of observations and gaps, from seconds to hours.
func TestRedisCountersMatchLocalRandom(t *testing.T) {
	rs := startRedis(t)
	rc := NewRedis(rs.addr(), "r:", time.Second, discardLog(), NewMetrics(nil))
	defer rc.Close()
	lc := NewLocalCounters(1000)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	now := t0
	gaps := []time.Duration{0, time.Second, 7 * time.Second, 45 * time.Second, 4 * time.Minute, 40 * time.Minute, 3 * time.Hour, 26 * time.Hour}
	for i := 0; i < 3000; i++ {
		now = now.Add(gaps[rng.IntN(len(gaps)-1)] + time.Duration(rng.IntN(1000))*time.Millisecond)
		if rng.IntN(500) == 0 {
			now = now.Add(gaps[len(gaps)-1])
		}
		o := Observation{Login: fmt.Sprint("u", rng.IntN(3))}
		if rng.IntN(2) == 0 {
			o.Messages = 1
			o.Recipients = 1 + rng.IntN(5)
			o.ClientIP = uint64(1 + rng.IntN(100))
			o.ClientNet = uint64(1 + rng.IntN(10))
			o.SenderDomain = uint64(1 + rng.IntN(20))
			o.Foreign = rng.IntN(2)
		}
		want, _ := lc.Observe(ctx, o, now)
		got, err := rc.Observe(ctx, o, now)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("step %d at %v: redis %+v; local %+v", i, now.Sub(t0), got, want)
		}
	}
}
