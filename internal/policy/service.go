package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saslguard/saslguard/internal/store"
)

// SnapshotFile is the name of the state snapshot in the state directory.
const SnapshotFile = "policy-state.json"

// Options are what a Service takes besides its configuration.
type Options struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer // nil: metrics are kept but not exported
	// Store is the incident store; nil opens <StateDir>/saslguard.db, unless
	// NoStore is set.
	Store   *store.Store
	NoStore bool
	// Now is the service's clock; nil means time.Now.
	Now func() time.Time
}

// Service is a running policy service: listeners, engine, persistence.
type Service struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics
	engine  *Engine
	server  *Server
	local   *LocalCounters // nil with Redis
	redis   *Redis         // nil without
	store   *store.Store
	ownsDB  bool

	mu        sync.Mutex
	listeners []net.Listener
	prevRedis map[string]bool // logins seen blocked in Redis at the last sync
	epoch     string          // Redis data set identity at the last sync
	counters  Counters
	// prevBlocked is the set of blocked logins after the last sync; a
	// login that leaves it had its block lifted and its counters reset.
	prevBlocked map[string]bool
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// NewService builds a service from a validated configuration.
func NewService(cfg Config, opt Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: opt.Log, now: opt.Now, store: opt.Store, prevRedis: map[string]bool{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.metrics = NewMetrics(opt.Registerer)
	if s.store == nil && !opt.NoStore && cfg.StateDir != "" {
		st, err := store.OpenDir(cfg.StateDir)
		if err != nil {
			return nil, fmt.Errorf("policy service: %w", err)
		}
		s.store, s.ownsDB = st, true
	}
	var counters Counters
	if cfg.Redis != "" {
		s.redis = NewRedis(cfg.Redis, cfg.RedisPrefix, cfg.RedisTimeout.Duration, s.log, s.metrics)
		counters = s.redis
	} else {
		s.local = NewLocalCounters(cfg.MaxLogins)
		counters = s.local
	}
	s.counters = counters
	s.engine = NewEngine(cfg, counters, s.log, s.metrics)
	s.server = &Server{
		Engine: s.engine, Log: s.log, Metrics: s.metrics, Limits: DefaultLimits,
		IdleTimeout: cfg.IdleTimeout.Duration, RequestTimeout: cfg.RequestTimeout.Duration,
		MaxConns: cfg.MaxConnections, Now: s.now,
	}
	return s, nil
}

// Engine returns the service's engine.
func (s *Service) Engine() *Engine { return s.engine }

// Start loads the snapshot, syncs blocks once, opens the listeners and
// starts serving and the background loops. It returns once listening.
func (s *Service) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.loadSnapshot()
	s.Sync(ctx)
	for _, spec := range s.cfg.Listen {
		ln, err := Listen(spec, s.cfg.SocketMode, s.cfg.SocketGroup)
		if err != nil {
			cancel()
			s.closeListeners()
			return err
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, ln)
		s.mu.Unlock()
		s.log.Info("policy service listening", "addr", spec)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.server.Serve(ctx, ln); err != nil {
				s.log.Error("policy listener stopped", "addr", spec, "err", err)
			}
		}()
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.persistLoop(ctx) }()
	go func() { defer s.wg.Done(); s.every(ctx, s.cfg.SyncInterval.Duration, s.Sync) }()
	go func() {
		defer s.wg.Done()
		s.every(ctx, s.cfg.SnapshotInterval.Duration, func(context.Context) { s.saveSnapshot() })
	}()
	return nil
}

func (s *Service) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// Addrs returns the listeners' addresses.
func (s *Service) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

func (s *Service) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		l.Close()
	}
}

// Stop stops listening, closes connections, persists pending blocks and
// writes a last snapshot.
func (s *Service) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.closeListeners()
	s.server.Close()
	s.wg.Wait()
	s.drainEvents(context.Background())
	s.saveSnapshot()
	if s.redis != nil {
		s.redis.Close()
	}
	if s.ownsDB {
		s.store.Close()
	}
}

// Reload applies a new configuration's rules, replies and block list.
// Listeners, state directory and Redis stay as they are.
func (s *Service) Reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if fmt.Sprint(cfg.Listen) != fmt.Sprint(s.cfg.Listen) || cfg.Redis != s.cfg.Redis || cfg.StateDir != s.cfg.StateDir {
		s.log.Warn("reload: listen, redis and state_dir changes need a restart")
	}
	s.engine.SetConfig(cfg)
	s.log.Info("policy configuration reloaded")
	return nil
}

func (s *Service) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.engine.events:
			s.persist(ctx, ev)
		}
	}
}

func (s *Service) drainEvents(ctx context.Context) {
	for {
		select {
		case ev := <-s.engine.events:
			s.persist(ctx, ev)
		default:
			return
		}
	}
}

// persist records a new block: an incident and the block in the store,
// and the block in Redis. What fails is retried by Sync.
func (s *Service) persist(ctx context.Context, ev BlockEvent) {
	saved := false
	if s.store != nil {
		if err := s.recordIncident(ctx, ev); err != nil {
			s.storeError("record block", err)
		} else {
			saved = true
		}
	}
	if s.redis != nil {
		if err := s.redis.AddBlock(ctx, ev.Login, RedisBlock{Source: "policy", Reason: ev.Reason, At: ev.At}, s.now()); err == nil {
			saved = true
		}
	}
	if saved {
		s.engine.blocks.persisted(ev.Login)
	}
}

func (s *Service) recordIncident(ctx context.Context, ev BlockEvent) error {
	id, err := s.store.CreateIncident(ctx, store.Incident{
		Login: ev.Login, Source: "policy", Summary: ev.Reason, Created: ev.At,
	})
	if err != nil {
		return err
	}
	if _, err := s.store.Block(ctx, ev.Login, "policy", ev.Reason, id); err != nil {
		return err
	}
	_, err = s.store.AddAction(ctx, store.Action{
		IncidentID: id, At: ev.At, Command: "policy block", Result: "login blocked by rule " + ev.Rule, OK: 1,
	})
	return err
}

func (s *Service) storeError(what string, err error) {
	s.metrics.storeErrors.Inc()
	s.log.Error("incident store: "+what, "err", err)
}

// Sync rebuilds the set of blocked logins from the store and Redis, pushes
// local blocks Redis lacks, and applies blocks lifted elsewhere in the
// fleet (seen in Redis before, gone now). With Redis down it keeps the last
// copy of Redis's blocks. It also sweeps expired state and updates gauges.
func (s *Service) Sync(ctx context.Context) {
	now := s.now()
	synced := map[string]bool{}
	local := map[string]bool{}
	storeOK := false
	if s.store != nil {
		bl, err := s.store.ListBlocked(ctx)
		if err != nil {
			s.storeError("list blocks", err)
		} else {
			storeOK = true
			for _, b := range bl {
				local[b.Login] = true
			}
		}
	}
	for _, l := range s.engine.blocks.Dynamic() {
		local[l] = true
	}
	if s.redis != nil {
		s.mu.Lock()
		prev, prevEpoch := s.prevRedis, s.epoch
		s.mu.Unlock()
		epoch, err := s.redis.Epoch(ctx, now)
		var remote map[string]RedisBlock
		if err == nil {
			remote, err = s.redis.Blocks(ctx, now)
		}
		if err == nil {
			cur := make(map[string]bool, len(remote))
			for l := range remote {
				cur[l] = true
			}
			fresh := prevEpoch != "" && epoch != prevEpoch
			if fresh {
				// Redis lost its data: put back every block we knew of.
				s.log.Warn("redis data set changed (restart without persistence?): pushing known blocks back")
				for l := range prev {
					local[l] = true
				}
			}
			for l := range local {
				if cur[l] {
					continue
				}
				if prev[l] && !fresh {
					s.lift(ctx, l)
					delete(local, l)
					continue
				}
				if err := s.redis.AddBlock(ctx, l, RedisBlock{Source: "policy", Reason: "pushed from local state", At: now}, now); err == nil {
					cur[l] = true
				}
			}
			prev = cur
			s.mu.Lock()
			s.prevRedis, s.epoch = cur, epoch
			s.mu.Unlock()
		}
		for l := range prev {
			synced[l] = true
		}
	}
	for l := range local {
		synced[l] = true
	}
	if storeOK || s.redis != nil {
		s.engine.blocks.SetSynced(synced)
		s.resetLifted(ctx, synced)
	}
	s.engine.Sweep(now)
	s.metrics.blocked.Set(float64(s.engine.blocks.Len()))
	if s.local != nil {
		s.metrics.loginsTracked.Set(float64(s.local.Len()))
	}
}

// resetLifted resets the counters of logins whose block was lifted since
// the last sync.
func (s *Service) resetLifted(ctx context.Context, synced map[string]bool) {
	s.mu.Lock()
	prev := s.prevBlocked
	s.prevBlocked = synced
	s.mu.Unlock()
	for l := range prev {
		if synced[l] || s.engine.blocks.Has(l) {
			continue
		}
		if err := s.counters.Reset(ctx, l); err != nil {
			s.log.Error("block lifted but counters not reset", "login", l, "err", err)
			continue
		}
		s.log.Info("block lifted, counters reset", "login", l)
	}
}

// lift applies here a block lifted elsewhere in the fleet.
func (s *Service) lift(ctx context.Context, login string) {
	s.engine.blocks.removeDynamic(login)
	if s.store != nil {
		b, _, _ := s.store.IsBlocked(ctx, login)
		if err := s.store.Unblock(ctx, login); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.storeError("unblock", err)
			return
		}
		if b.IncidentID != 0 {
			if _, err := s.store.AddAction(ctx, store.Action{
				IncidentID: b.IncidentID, At: s.now(), Command: "policy sync", Result: "block lifted elsewhere in the fleet", OK: 1,
			}); err != nil {
				s.storeError("record lift", err)
			}
		}
	}
	s.log.Info("block lifted elsewhere in the fleet", "login", login)
}

type snapshot struct {
	Version  int                   `json:"version"`
	Saved    time.Time             `json:"saved"`
	Counters map[string]loginState `json:"counters,omitempty"`
	// RedisBlocks is the last copy of the fleet's blocks, so that a restart
	// while Redis is down keeps them.
	RedisBlocks []string `json:"redis_blocks,omitempty"`
	RedisEpoch  string   `json:"redis_epoch,omitempty"`
	// Blocks are blocks made here, kept only when there is no store.
	Blocks []string `json:"blocks,omitempty"`
}

func (s *Service) snapshotPath() string {
	if s.cfg.StateDir == "" {
		return ""
	}
	return filepath.Join(s.cfg.StateDir, SnapshotFile)
}

func (s *Service) saveSnapshot() {
	p := s.snapshotPath()
	if p == "" {
		return
	}
	snap := snapshot{Version: 1, Saved: s.now().UTC()}
	if s.local != nil {
		snap.Counters = s.local.snapshot(snap.Saved.Add(-stateTTL * time.Second))
	}
	s.mu.Lock()
	for l := range s.prevRedis {
		snap.RedisBlocks = append(snap.RedisBlocks, l)
	}
	snap.RedisEpoch = s.epoch
	s.mu.Unlock()
	if s.store == nil {
		snap.Blocks = s.engine.blocks.Dynamic()
	}
	data, err := json.Marshal(&snap)
	if err == nil {
		err = writeFileAtomic(p, data)
	}
	if err != nil {
		s.log.Error("policy snapshot not saved", "path", p, "err", err)
	}
}

func writeFileAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".policy-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

func (s *Service) loadSnapshot() {
	p := s.snapshotPath()
	if p == "" {
		return
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var snap snapshot
	if err == nil {
		err = json.Unmarshal(data, &snap)
	}
	if err == nil && snap.Version != 1 {
		err = fmt.Errorf("unknown snapshot version %d", snap.Version)
	}
	if err != nil {
		s.log.Error("policy snapshot ignored", "path", p, "err", err)
		return
	}
	if s.local != nil {
		s.local.restore(snap.Counters)
	}
	s.mu.Lock()
	for _, l := range snap.RedisBlocks {
		s.prevRedis[l] = true
	}
	s.epoch = snap.RedisEpoch
	s.mu.Unlock()
	for _, l := range snap.Blocks {
		s.engine.blocks.addDynamic(l)
	}
	synced := map[string]bool{}
	for _, l := range snap.RedisBlocks {
		synced[l] = true
	}
	s.engine.blocks.SetSynced(synced)
	s.log.Info("policy snapshot loaded", "path", p, "saved", snap.Saved, "logins", len(snap.Counters))
}
