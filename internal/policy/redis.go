package policy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRedisDown is returned while a recent Redis failure keeps the service
// from trying again (a short back-off, so requests do not each wait for a
// timeout).
var ErrRedisDown = errors.New("redis unavailable")

// Redis shares counters and blocks across a fleet of policy services
// through one redis-server. Counters live in one hash per login (bucketed
// windows, updated by a Lua script in one round trip) and three sorted sets
// for distinct values; blocks live in one hash.
type Redis struct {
	rdb       *redis.Client
	prefix    string
	timeout   time.Duration
	backoff   time.Duration
	log       *slog.Logger
	metrics   *Metrics
	downUntil atomic.Int64 // unix nanoseconds on the server's clock
	up        atomic.Bool
	logGate   logGate
}

// quietRedisLog replaces go-redis's own logger, which prints every failed
// dial to stderr; the policy service logs Redis failures itself, rate
// limited, and counts them.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

var setRedisLogger sync.Once

// NewRedis returns a client for addr (host:port). It does not connect yet;
// go-redis dials on demand, so a server that comes back is used again.
func NewRedis(addr, prefix string, timeout time.Duration, log *slog.Logger, m *Metrics) *Redis {
	setRedisLogger.Do(func() { redis.SetLogger(quietRedisLog{}) })
	rdb := redis.NewClient(&redis.Options{
		Addr:            addr,
		DialTimeout:     timeout,
		ReadTimeout:     timeout,
		WriteTimeout:    timeout,
		PoolTimeout:     timeout,
		PoolSize:        64,
		MaxRetries:      -1, // fail fast; the back-off decides when to retry
		DisableIdentity: true,
	})
	r := &Redis{rdb: rdb, prefix: prefix, timeout: timeout, backoff: time.Second, log: log, metrics: m}
	r.up.Store(true)
	return r
}

// Close closes the connection pool.
func (r *Redis) Close() error { return r.rdb.Close() }

// Up reports whether the last operation succeeded.
func (r *Redis) Up() bool { return r.up.Load() }

// fail records a failed operation. A non-zero now (the service's clock)
// also starts the back-off during which Observe does not try Redis.
func (r *Redis) fail(op string, err error, now time.Time) error {
	if !now.IsZero() {
		r.downUntil.Store(now.Add(r.backoff).UnixNano())
	}
	if r.up.Swap(false) || r.logGate.allow() {
		r.log.Error("redis operation failed: counters fail open, blocks from the local copy", "op", op, "err", err)
	}
	if r.metrics != nil {
		r.metrics.redisErrors.WithLabelValues(op).Inc()
		r.metrics.redisUp.Set(0)
	}
	return fmt.Errorf("redis %s: %w", op, err)
}

func (r *Redis) ok() {
	if !r.up.Swap(true) {
		r.log.Info("redis reachable again")
	}
	if r.metrics != nil {
		r.metrics.redisUp.Set(1)
	}
}

// observeScript adds to a login's windows and distinct sets and returns
// the totals. Each window (series M messages, R recipients, F foreign
// senders; m minute, h hour, d day) keeps in the login's hash its buckets
// ("Mm:SLOT"), a running total ("Mm:t") and its newest slot ("Mm:l"): a
// request reads them all with one HMGET, drops only the buckets that left
// the window since the last request and writes back with one HSET, so it
// costs a few commands whatever the windows' sizes.
var observeScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local h = KEYS[1]
local msgs, rcpts, foreign = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local S = {
  {'Mm', 10, 6, msgs}, {'Mh', 300, 12, msgs}, {'Md', 3600, 24, msgs},
  {'Rm', 10, 6, rcpts}, {'Rh', 300, 12, rcpts}, {'Rd', 3600, 24, rcpts},
  {'Fh', 300, 12, foreign},
}
local fields = {}
for _, s in ipairs(S) do
  s.cur = math.floor(now / s[2])
  fields[#fields + 1] = s[1] .. ':l'
  fields[#fields + 1] = s[1] .. ':t'
  fields[#fields + 1] = s[1] .. ':' .. s.cur
end
local v = redis.call('HMGET', h, unpack(fields))
local set, del = {}, {}
for i, s in ipairs(S) do
  local name, n, add, cur = s[1], s[3], s[4], s.cur
  local last = tonumber(v[3 * i - 2])
  local total = tonumber(v[3 * i - 1]) or 0
  local b = tonumber(v[3 * i]) or 0
  local changed = false
  if last == nil then
    last, total, changed = cur, 0, true
  elseif cur > last then
    local exp = {}
    for x = last - n + 1, math.min(last, cur - n) do
      exp[#exp + 1] = name .. ':' .. x
    end
    if #exp > 0 then
      local ev = redis.call('HMGET', h, unpack(exp))
      for j = 1, #exp do
        local e = tonumber(ev[j])
        if e then
          total = total - e
          del[#del + 1] = exp[j]
        end
      end
    end
    last, changed = cur, true
  end
  -- A clock behind the newest slot still counts while inside the window.
  if add > 0 and cur > last - n then
    set[#set + 1] = name .. ':' .. cur
    set[#set + 1] = b + add
    total = total + add
    changed = true
  end
  if changed then
    set[#set + 1] = name .. ':l'
    set[#set + 1] = last
    set[#set + 1] = name .. ':t'
    set[#set + 1] = total
  end
  s.total = total
end
if #del > 0 then redis.call('HDEL', h, unpack(del)) end
if #set > 0 then redis.call('HSET', h, unpack(set)) end
redis.call('EXPIRE', h, 90000)
local out = {}
for i = 1, 6 do out[i] = S[i].total end
local cap = tonumber(ARGV[8])
for i = 2, 4 do
  local k = KEYS[i]
  local val = ARGV[i + 3]
  if val ~= '' then
    redis.call('ZADD', k, now, val)
    redis.call('ZREMRANGEBYSCORE', k, '-inf', now - 3600)
    if redis.call('ZCARD', k) > cap then
      redis.call('ZREMRANGEBYRANK', k, 0, -(cap + 1))
    end
    redis.call('EXPIRE', k, 3700)
  end
  out[#out + 1] = redis.call('ZCOUNT', k, now - 3599, now)
end
out[#out + 1] = S[7].total
return out
`)

func hexOrEmpty(h uint64) string {
	if h == 0 {
		return ""
	}
	return strconv.FormatUint(h, 16)
}

// Observe implements Counters. While Redis is failing it returns an error
// at once (for a second after each failure), so the engine fails open.
func (r *Redis) Observe(ctx context.Context, o Observation, now time.Time) (Totals, error) {
	if now.UnixNano() < r.downUntil.Load() {
		return Totals{}, ErrRedisDown
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	base := r.prefix + "{" + o.Login + "}:"
	keys := []string{base + "c", base + "ip", base + "net", base + "dom"}
	res, err := observeScript.Run(ctx, r.rdb, keys,
		now.Unix(), o.Messages, o.Recipients, o.Foreign,
		hexOrEmpty(o.ClientIP), hexOrEmpty(o.ClientNet), hexOrEmpty(o.SenderDomain), maxDistinct).Int64Slice()
	if err != nil {
		return Totals{}, r.fail("counters", err, now)
	}
	if len(res) != 10 {
		return Totals{}, r.fail("counters", fmt.Errorf("script returned %d values", len(res)), now)
	}
	r.ok()
	return Totals{
		Messages:       [3]int{int(res[0]), int(res[1]), int(res[2])},
		Recipients:     [3]int{int(res[3]), int(res[4]), int(res[5])},
		ClientIPs:      int(res[6]),
		ClientNetworks: int(res[7]),
		SenderDomains:  int(res[8]),
		ForeignSenders: int(res[9]),
	}, nil
}

// Epoch returns the identity of the Redis data set: a random value stored
// on first use. A different value means Redis lost its data (a restart
// without persistence), which must not be read as "every block was lifted".
func (r *Redis) Epoch(ctx context.Context, now time.Time) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var b [12]byte
	rand.Read(b[:])
	key := r.prefix + "epoch"
	r.rdb.SetNX(ctx, key, hex.EncodeToString(b[:]), 0)
	v, err := r.rdb.Get(ctx, key).Result()
	if err != nil {
		return "", r.fail("blocks_read", err, now)
	}
	r.ok()
	return v, nil
}

// Reset implements Counters: it deletes the login's shared counters.
func (r *Redis) Reset(ctx context.Context, login string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	base := r.prefix + "{" + normalizeLogin(login) + "}:"
	if err := r.rdb.Del(ctx, base+"c", base+"ip", base+"net", base+"dom").Err(); err != nil {
		return r.fail("counters", err, time.Time{})
	}
	r.ok()
	return nil
}

// RedisBlock is a block as stored in Redis.
type RedisBlock struct {
	Source string    `json:"source"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func (r *Redis) blocksKey() string { return r.prefix + "blocked" }

// Blocks returns every login blocked fleet-wide.
func (r *Redis) Blocks(ctx context.Context, now time.Time) (map[string]RedisBlock, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	m, err := r.rdb.HGetAll(ctx, r.blocksKey()).Result()
	if err != nil {
		return nil, r.fail("blocks_read", err, now)
	}
	r.ok()
	out := make(map[string]RedisBlock, len(m))
	for k, v := range m {
		var b RedisBlock
		json.Unmarshal([]byte(v), &b) // a bad value still blocks
		out[k] = b
	}
	return out, nil
}

// AddBlock blocks login fleet-wide; an existing block is kept.
func (r *Redis) AddBlock(ctx context.Context, login string, b RedisBlock, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, _ := json.Marshal(b)
	if err := r.rdb.HSetNX(ctx, r.blocksKey(), normalizeLogin(login), v).Err(); err != nil {
		return r.fail("blocks_write", err, now)
	}
	r.ok()
	return nil
}

// RemoveBlock lifts a fleet-wide block.
func (r *Redis) RemoveBlock(ctx context.Context, login string, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.rdb.HDel(ctx, r.blocksKey(), normalizeLogin(login)).Err(); err != nil {
		return r.fail("blocks_write", err, now)
	}
	r.ok()
	return nil
}
