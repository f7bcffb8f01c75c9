package postfixblock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/saslguard/saslguard/internal/mtablock"
)

// PIDHint is an smtpd process id taken from a log line of the login
// ("QID: client=..., sasl_username=LOGIN"), with the line's time.
type PIDHint struct {
	PID  int
	Seen time.Time
}

// SessionQuery describes the sessions to end.
type SessionQuery struct {
	Login string       // for messages only
	Hints []PIDHint    // smtpd pids from the log
	IPs   []netip.Addr // the login's known client addresses
	// ByIP also ends smtpd sessions found only by their client address,
	// including sessions of other users behind the same address (NAT).
	ByIP bool
}

// SessionFinder finds and ends the smtpd sessions of one Postfix instance by
// looking at /proc. How a session is recognised:
//
//   - Only processes whose /proc/PID/stat names the command "smtpd" and whose
//     parent is this instance's master (queue_directory/pid/master.pid) are
//     considered: another instance's or another program's processes never are.
//   - A hinted pid (from the log) must have started no later than the log
//     line: a pid reused by a newer process fails that test. Because one
//     smtpd process serves many sessions in turn, when the login's client
//     addresses are known the process must also have an established TCP
//     connection from one of them; when they are not known, any established
//     TCP connection (it is in some session) will do.
//   - Only accepted connections count (local port is a listening port), not
//     smtpd's own outgoing connections (policy service, auth server).
//   - With ByIP, every smtpd child with an established connection from one of
//     the login's addresses is taken, which also finds sessions that queued
//     nothing and so left no log line.
//
// Limits: a session that never logged and whose address is not known is not
// found; ByIP ends other users' sessions from the same address; sockets are
// read from /proc/net/tcp{,6} of the caller's network namespace.
type SessionFinder struct {
	ProcRoot  string // "" means /proc
	MasterPID func() (int, error)
	ClockTick int64 // USER_HZ; 0 means 100
	// ResetConn resets one TCP connection. nil means `ss -K` on the real
	// /proc (ProcRoot ""), and no resetting on another.
	ResetConn func(ctx context.Context, local, remote netip.AddrPort) error
}

// ssReset resets a connection with `ss -K` (the kernel's sock_destroy;
// needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY). ss exits 0 when
// nothing matched too: End checks that the socket is gone.
func ssReset(ctx context.Context, local, remote netip.AddrPort) error {
	ss, err := exec.LookPath("ss")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ss, "-K", "-t", "-n", "src", local.String(), "dst", remote.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ss -K: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func (f *SessionFinder) resetter() func(context.Context, netip.AddrPort, netip.AddrPort) error {
	switch {
	case f.ResetConn != nil:
		return f.ResetConn
	case f.ProcRoot == "":
		return ssReset
	}
	return nil
}

// Sessions returns the map's SessionFinder (master pid from the queue
// directory).
func (m *Map) Sessions() *SessionFinder {
	return &SessionFinder{MasterPID: func() (int, error) {
		return readPIDFile(filepath.Join(m.cfg.QueueDir, "pid", "master.pid"))
	}}
}

func readPIDFile(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("read postfix master pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("read postfix master pid %s: bad pid %q", p, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

type procInfo struct {
	pid, ppid int
	comm      string
	start     time.Time
	startRaw  uint64
}

func (f *SessionFinder) proc() string {
	if f.ProcRoot == "" {
		return "/proc"
	}
	return f.ProcRoot
}

// Find returns the sessions that match q, without ending them.
func (f *SessionFinder) Find(q SessionQuery) ([]mtablock.Session, error) {
	found, _, err := f.find(q)
	return found, err
}

// procView is what find read of /proc, for End to reuse.
type procView struct {
	boot  time.Time
	peers map[uint64]tcpConn
	start map[int]uint64 // start time (raw) of each process found
}

func (f *SessionFinder) find(q SessionQuery) ([]mtablock.Session, procView, error) {
	master, err := f.MasterPID()
	if err != nil {
		return nil, procView{}, err
	}
	boot, err := f.bootTime()
	if err != nil {
		return nil, procView{}, err
	}
	peers, err := f.tcpPeers()
	if err != nil {
		return nil, procView{}, err
	}
	hints := make(map[int]time.Time)
	for _, h := range q.Hints {
		hints[h.PID] = h.Seen
	}
	ents, err := os.ReadDir(f.proc())
	if err != nil {
		return nil, procView{}, fmt.Errorf("list processes: %w", err)
	}
	var found []mtablock.Session
	start := map[int]uint64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		pi, err := f.stat(pid, boot)
		if err != nil || pi.comm != "smtpd" || pi.ppid != master {
			continue
		}
		start[pid] = pi.startRaw
		remotes := f.remotesOf(pid, peers)
		match := func() (netip.Addr, bool) {
			for _, r := range remotes {
				if slices.Contains(q.IPs, r) {
					return r, true
				}
			}
			return netip.Addr{}, false
		}
		// Log times often have whole seconds only: compare in seconds.
		if seen, ok := hints[pid]; ok && !pi.start.Truncate(time.Second).After(seen) {
			if len(q.IPs) == 0 && len(remotes) > 0 {
				found = append(found, mtablock.Session{PID: pid, ClientAddr: remotes[0].String(), How: "log-pid"})
				continue
			}
			if a, ok := match(); ok {
				found = append(found, mtablock.Session{PID: pid, ClientAddr: a.String(), How: "log-pid"})
				continue
			}
		}
		if q.ByIP {
			if a, ok := match(); ok {
				found = append(found, mtablock.Session{PID: pid, ClientAddr: a.String(), How: "client-ip"})
			}
		}
	}
	return found, procView{boot, peers, start}, nil
}

// End finds the sessions of q and ends them.
//
// First each session's client connection is reset (ResetConn): smtpd sees
// the client gone, logs "lost connection" and lives on, as after any
// session. Killing it instead can stall every login's mail: Postfix's
// master throttles a service for service_throttle_time (60 s by default)
// when one of its processes dies by a signal before it has finished a first
// session. The processes still holding their connection after grace get
// SIGTERM, then SIGKILL after another grace. Each signal goes through a
// pidfd opened after re-checking the process's start time, so a reused pid
// is never signalled.
func (f *SessionFinder) End(ctx context.Context, q SessionQuery, grace time.Duration) (mtablock.KillResult, error) {
	var res mtablock.KillResult
	found, view, err := f.find(q)
	if err != nil {
		return res, fmt.Errorf("end sessions of %q: %w", q.Login, err)
	}
	res.Found = found
	boot := view.boot
	found = f.reset(ctx, found, view.peers, grace, &res)
	type target struct {
		p     *os.Process
		pid   int
		start uint64
	}
	var live []target
	for _, s := range found {
		// the process must still be the one found (its start time), also
		// after the grace time of the reset
		before, err := f.stat(s.PID, boot)
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%d: gone", s.PID))
			continue
		}
		if before.startRaw != view.start[s.PID] {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%d: pid reused", s.PID))
			continue
		}
		p, err := os.FindProcess(s.PID) // holds a pidfd on Linux
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%d: %v", s.PID, err))
			continue
		}
		after, err := f.stat(s.PID, boot)
		if err != nil || after.startRaw != before.startRaw || after.comm != "smtpd" {
			p.Release()
			res.Skipped = append(res.Skipped, fmt.Sprintf("%d: pid reused", s.PID))
			continue
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			p.Release()
			res.Skipped = append(res.Skipped, fmt.Sprintf("%d: %v", s.PID, err))
			continue
		}
		live = append(live, target{p, s.PID, before.startRaw})
	}
	deadline := time.Now().Add(grace)
	for len(live) > 0 {
		live = slices.DeleteFunc(live, func(t target) bool {
			if err := t.p.Signal(syscall.Signal(0)); errors.Is(err, os.ErrProcessDone) {
				res.Terminated = append(res.Terminated, t.pid)
				t.p.Release()
				return true
			}
			return false
		})
		if len(live) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, t := range live {
		if err := t.p.Signal(syscall.SIGKILL); err == nil {
			res.Killed = append(res.Killed, t.pid)
		} else if errors.Is(err, os.ErrProcessDone) {
			res.Terminated = append(res.Terminated, t.pid)
		}
		t.p.Release()
	}
	return res, nil
}

func (f *SessionFinder) bootTime() (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(f.proc(), "stat"))
	if err != nil {
		return time.Time{}, fmt.Errorf("read boot time: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				break
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("read boot time: no btime in %s/stat", f.proc())
}

// stat parses /proc/PID/stat: "pid (comm) state ppid ... starttime(22) ...".
func (f *SessionFinder) stat(pid int, boot time.Time) (procInfo, error) {
	b, err := os.ReadFile(filepath.Join(f.proc(), strconv.Itoa(pid), "stat"))
	if err != nil {
		return procInfo{}, err
	}
	return parseStat(string(b), boot, f.ClockTick)
}

func parseStat(s string, boot time.Time, tick int64) (procInfo, error) {
	open := strings.IndexByte(s, '(')
	end := strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procInfo{}, fmt.Errorf("bad stat line")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procInfo{}, fmt.Errorf("bad stat pid")
	}
	f := strings.Fields(s[end+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return procInfo{}, fmt.Errorf("short stat line")
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return procInfo{}, fmt.Errorf("bad stat fields")
	}
	if tick <= 0 {
		tick = 100
	}
	st := boot.Add(time.Duration(start) * time.Second / time.Duration(tick))
	return procInfo{pid: pid, ppid: ppid, comm: s[open+1 : end], start: st, startRaw: start}, nil
}

// tcpPeers maps socket inode to the remote address of established TCP
// connections.
func (f *SessionFinder) tcpPeers() (map[uint64]tcpConn, error) {
	peers := make(map[uint64]tcpConn)
	var all []io.Reader
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join(f.proc(), "net", name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read sockets: %w", err)
		}
		all = append(all, bytes.NewReader(b), strings.NewReader("\n"))
	}
	parseNetTCP(io.MultiReader(all...), peers)
	return peers, nil
}

// tcpConn is an accepted TCP connection: this host's end and the client's.
type tcpConn struct {
	local, remote netip.AddrPort
}

// parseNetTCP reads /proc/net/tcp{,6}: it records established connections
// whose local port is one some socket listens on (accepted connections, as a
// client's session with smtpd is), not outgoing ones (smtpd's own connections
// to a policy service or an auth server).
func parseNetTCP(r io.Reader, peers map[uint64]tcpConn) {
	type conn struct {
		port string
		c    tcpConn
	}
	listening := make(map[string]bool)
	conns := make(map[uint64]conn)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		_, port, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		switch f[3] {
		case "0A": // LISTEN
			listening[port] = true
		case "01": // ESTABLISHED
			local, ok1 := parseHexAddrPort(f[1])
			remote, ok2 := parseHexAddrPort(f[2])
			if !ok1 || !ok2 {
				continue
			}
			ino, err := strconv.ParseUint(f[9], 10, 64)
			if err != nil || ino == 0 {
				continue
			}
			conns[ino] = conn{port, tcpConn{local, remote}}
		}
	}
	for ino, c := range conns {
		if listening[c.port] {
			peers[ino] = c.c
		}
	}
}

// parseHexAddrPort parses /proc/net/tcp's "0100007F:1F90" with its port.
func parseHexAddrPort(s string) (netip.AddrPort, bool) {
	a, ok := parseHexAddr(s)
	_, hp, _ := strings.Cut(s, ":")
	port, err := strconv.ParseUint(hp, 16, 16)
	if !ok || err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// parseHexAddr parses /proc/net/tcp's "0100007F:1F90" (IPv4, the 32-bit word
// in host byte order, little-endian here) or the 32-hex-digit IPv6 form.
func parseHexAddr(s string) (netip.Addr, bool) {
	h, _, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return netip.Addr{}, false
	}
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}), true
	case 16:
		var a [16]byte
		for w := 0; w < 4; w++ {
			for i := 0; i < 4; i++ {
				a[w*4+i] = b[w*4+3-i]
			}
		}
		return netip.AddrFrom16(a).Unmap(), true
	}
	return netip.Addr{}, false
}

// reset resets the connections of the sessions found and waits up to grace
// for their processes to let go of them. It returns the sessions that still
// need a signal.
func (f *SessionFinder) reset(ctx context.Context, found []mtablock.Session, peers map[uint64]tcpConn, grace time.Duration, res *mtablock.KillResult) []mtablock.Session {
	resetConn := f.resetter()
	if resetConn == nil || len(found) == 0 {
		return found
	}
	type pending struct {
		s    mtablock.Session
		inos []uint64
	}
	var wait []pending
	var rest []mtablock.Session
	for _, s := range found {
		var inos []uint64
		for _, c := range f.connsOf(s.PID, peers) {
			if s.ClientAddr != "" && c.c.remote.Addr().String() != s.ClientAddr {
				continue // smtpd has one client at a time; be exact anyway
			}
			if err := resetConn(ctx, c.c.local, c.c.remote); err != nil {
				res.Skipped = append(res.Skipped, fmt.Sprintf("%d: reset %s: %v (signalled instead)", s.PID, c.c.remote, err))
				inos = nil
				break
			}
			inos = append(inos, c.ino)
		}
		if len(inos) == 0 {
			rest = append(rest, s)
			continue
		}
		wait = append(wait, pending{s, inos})
	}
	deadline := time.Now().Add(grace)
	for len(wait) > 0 {
		wait = slices.DeleteFunc(wait, func(p pending) bool {
			if f.holdsAny(p.s.PID, p.inos) {
				return false
			}
			res.Reset = append(res.Reset, p.s.PID)
			return true
		})
		if len(wait) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range wait {
		rest = append(rest, p.s)
	}
	return rest
}

// holdsAny tells whether pid (still) has one of the sockets inos open.
func (f *SessionFinder) holdsAny(pid int, inos []uint64) bool {
	open, ok := f.socketInodes(pid)
	return ok && slices.ContainsFunc(open, func(ino uint64) bool { return slices.Contains(inos, ino) })
}

// remotesOf returns the remote addresses of pid's accepted TCP connections.
func (f *SessionFinder) remotesOf(pid int, peers map[uint64]tcpConn) []netip.Addr {
	var out []netip.Addr
	for _, c := range f.connsOf(pid, peers) {
		out = append(out, c.c.remote.Addr())
	}
	return out
}

type inodeConn struct {
	ino uint64
	c   tcpConn
}

// connsOf returns pid's accepted TCP connections.
func (f *SessionFinder) connsOf(pid int, peers map[uint64]tcpConn) []inodeConn {
	inos, _ := f.socketInodes(pid)
	var out []inodeConn
	for _, ino := range inos {
		if c, ok := peers[ino]; ok {
			out = append(out, inodeConn{ino, c})
		}
	}
	return out
}

// socketInodes returns the inodes of pid's open sockets; false when the
// process is gone.
func (f *SessionFinder) socketInodes(pid int) ([]uint64, bool) {
	dir := filepath.Join(f.proc(), strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	var out []uint64
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		v, ok := strings.CutPrefix(l, "socket:[")
		if !ok {
			continue
		}
		if ino, err := strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64); err == nil {
			out = append(out, ino)
		}
	}
	return out, true
}
