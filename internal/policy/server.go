package policy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Server speaks the policy delegation protocol on its listeners.
type Server struct {
	Engine         *Engine
	Log            *slog.Logger
	Metrics        *Metrics // may be nil
	Limits         Limits
	IdleTimeout    time.Duration
	RequestTimeout time.Duration
	MaxConns       int
	// Now is the clock handed to the engine; tests replace it.
	Now func() time.Time

	sem     chan struct{}
	once    sync.Once
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	logGate logGate
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Limits == (Limits{}) {
			s.Limits = DefaultLimits
		}
		if s.IdleTimeout <= 0 {
			s.IdleTimeout = 330 * time.Second
		}
		if s.RequestTimeout <= 0 {
			s.RequestTimeout = 10 * time.Second
		}
		if s.MaxConns <= 0 {
			s.MaxConns = 1000
		}
		if s.Now == nil {
			s.Now = time.Now
		}
		s.sem = make(chan struct{}, s.MaxConns)
		s.conns = make(map[net.Conn]struct{})
	})
}

// Listen opens a listener for a "tcp:HOST:PORT" or "unix:/PATH" address. A
// stale unix socket at PATH is replaced; mode and group (may be "") are
// applied to it.
func Listen(spec, mode, group string) (net.Listener, error) {
	network, addr, err := ParseListen(spec)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		if fi, err := os.Lstat(addr); err == nil {
			if fi.Mode()&os.ModeSocket == 0 {
				return nil, fmt.Errorf("listen %s: exists and is not a socket", spec)
			}
			if c, err := net.DialTimeout("unix", addr, time.Second); err == nil {
				c.Close()
				return nil, fmt.Errorf("listen %s: another process is serving this socket", spec)
			}
			os.Remove(addr)
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", spec, err)
	}
	if network == "unix" {
		if mode != "" {
			m, err := parseMode(mode)
			if err == nil {
				err = os.Chmod(addr, os.FileMode(m))
			}
			if err != nil {
				ln.Close()
				return nil, fmt.Errorf("listen %s: %w", spec, err)
			}
		}
		if group != "" {
			g, err := user.LookupGroup(group)
			var gid int
			if err == nil {
				gid, err = strconv.Atoi(g.Gid)
			}
			if err == nil {
				err = os.Chown(addr, -1, gid)
			}
			if err != nil {
				ln.Close()
				return nil, fmt.Errorf("listen %s: socket group %q: %w", spec, group, err)
			}
		}
	}
	return ln, nil
}

// Serve accepts connections on ln until ctx ends or ln fails. On return it
// has closed ln; open connections are closed by Close.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.init()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if s.logGate.allow() {
				s.Log.Error("policy accept failed", "err", err)
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		select {
		case s.sem <- struct{}{}:
		default:
			if s.Metrics != nil {
				s.Metrics.connRefused.Inc()
			}
			if s.logGate.allow() {
				s.Log.Warn("policy connection refused: max_connections reached", "remote", c.RemoteAddr().String(), "max", s.MaxConns)
			}
			c.Close()
			continue
		}
		s.track(c, true)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			defer s.track(c, false)
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) track(c net.Conn, add bool) {
	s.mu.Lock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	s.mu.Unlock()
	if s.Metrics != nil {
		if add {
			s.Metrics.connections.Inc()
		} else {
			s.Metrics.connections.Dec()
		}
	}
}

// Close closes every open connection and waits for their handlers.
func (s *Server) Close() {
	s.init()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

var dunnoReply = AppendReply(nil, Dunno, "")

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	remote := "unix"
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		remote = a.String()
	}
	defer func() {
		if r := recover(); r != nil {
			if s.Metrics != nil {
				s.Metrics.panics.Inc()
			}
			s.Log.Error("policy connection handler panicked", "remote", remote, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	br := bufio.NewReaderSize(c, s.Limits.MaxLine+2)
	var p parser
	out := make([]byte, 0, 256)
	for {
		// Idle between requests: wait for the first byte.
		c.SetReadDeadline(time.Now().Add(s.IdleTimeout))
		if _, err := br.Peek(1); err != nil {
			return
		}
		// From the first byte, the whole request has RequestTimeout.
		c.SetReadDeadline(time.Now().Add(s.RequestTimeout))
		req, err := p.read(br, s.Limits)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			s.malformed(c, remote, err)
			return
		}
		start := time.Now()
		d := s.Engine.Decide(ctx, req, s.Now())
		if s.Metrics != nil {
			s.Metrics.request(req.ProtocolState, d.Action).Inc()
			if d.NewBlock {
				s.Metrics.newBlocks.Inc()
			}
		}
		out = AppendReply(out[:0], d.Action, d.Text)
		c.SetWriteDeadline(time.Now().Add(s.RequestTimeout))
		if _, err := c.Write(out); err != nil {
			return
		}
		if s.Metrics != nil {
			s.Metrics.duration.Observe(time.Since(start).Seconds())
		}
	}
}

// malformed logs a bad request, answers DUNNO (the safe answer) and lets
// the caller close the connection, since the stream is out of step.
func (s *Server) malformed(c net.Conn, remote string, err error) {
	reason := "syntax"
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		reason = "timeout"
	case errors.Is(err, errLineLong):
		reason = "line_too_long"
	case errors.Is(err, errTooMany):
		reason = "too_many_attributes"
	case errors.Is(err, errTooBig):
		reason = "too_large"
	case errors.Is(err, errTruncated), errors.Is(err, io.ErrUnexpectedEOF):
		reason = "truncated"
	case !errors.Is(err, ErrMalformed):
		// A read error (reset by peer): nothing to answer.
		return
	}
	if s.Metrics != nil {
		s.Metrics.malformed.WithLabelValues(reason).Inc()
	}
	if s.logGate.allow() {
		s.Log.Warn("policy request refused, answering DUNNO and closing", "remote", remote, "reason", reason, "err", err)
	}
	c.SetWriteDeadline(time.Now().Add(min(time.Second, s.RequestTimeout)))
	if _, err := c.Write(dunnoReply); err != nil {
		return
	}
	// Closing with unread input would reset the connection and could lose
	// the answer: half-close, then drain a bounded amount for a bounded time.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(min(time.Second, s.RequestTimeout)))
	io.CopyN(io.Discard, c, 1<<16)
}

// logGate lets through at most 20 log lines a second, so that a hostile
// client cannot fill the disk with warnings about itself.
type logGate struct {
	sec atomic.Int64
	n   atomic.Int64
}

func (g *logGate) allow() bool {
	now := time.Now().Unix()
	if g.sec.Load() != now {
		g.sec.Store(now)
		g.n.Store(0)
	}
	return g.n.Add(1) <= 20
}
