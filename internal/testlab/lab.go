// Package testlab starts private, real Postfix and Dovecot instances for
// saslguard's integration tests: a small victim mail server on loopback whose
// logs, queue and account store a test can drive and inspect.
//
// Each Lab lives in its own directory (config, queue, data, logs, Dovecot
// base_dir, passwd-file, mailboxes) and its own ports on 127.0.0.1, so labs in
// parallel tests and parallel test packages never meet each other or a
// system-wide Postfix. Everything is stopped at the test's cleanup.
//
// The lab needs root and the Debian packages that .ci/install-servers
// installs. Without them Start skips the test, or fails it when the CI
// environment variable is set.
//
// A typical integration test:
//
//	lab := testlab.Start(t, testlab.Options{})
//	res, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.66",
//		Login: "alice@lab.test", Password: testlab.DefaultUsers["alice@lab.test"],
//		From: "promo@forged.example", To: []string{"x@example.org"}})
//	// run the code under test against lab.LogPath(), lab.ConfigDir,
//	// lab.Command(testlab.ToolPostsuper), lab.PasswdFile, ...
//	_, err = lab.WaitLog(ctx, testlab.PostfixLog, res.QueueID+": to=<x@example.org>, relay=none", nil)
//
// The Postfix log (LogPath) is written by postlogd in the classic syslog
// shape ("Nov 27 05:39:22 mail postfix/submission/smtpd[123]: ..."); Dovecot
// writes its own file (DovecotLog) in the same shape ("... mail dovecot:
// auth: Info: ..."). Clients on loopback addresses other than 127.0.0.1 are
// outside mynetworks and must authenticate. External mail is relayed to a
// loopback port where nothing listens and stays deferred; nothing leaves the
// machine.
package testlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Domain is the lab's local mail domain; Hostname is its myhostname.
const (
	Domain   = "lab.test"
	Hostname = "mail.lab.test"
)

// FilterMode says which mail takes the after-queue content filter hop.
type FilterMode int

const (
	// FilterOff: no content filter, one queue id per message.
	FilterOff FilterMode = iota
	// FilterAll sets content_filter in main.cf: every message received by
	// smtpd is relayed to the re-injection smtpd and gets a second queue id.
	FilterAll
	// FilterSMTPS sets content_filter only on the smtps listener, so one log
	// can mix single-hop (submission) and two-hop (smtps) messages.
	FilterSMTPS
)

func (m FilterMode) String() string {
	switch m {
	case FilterOff:
		return "off"
	case FilterAll:
		return "all"
	case FilterSMTPS:
		return "smtps"
	}
	return "FilterMode(" + strconv.Itoa(int(m)) + ")"
}

// Options configures a Lab. The zero value is a working lab.
type Options struct {
	// LongQueueIDs sets enable_long_queue_ids = yes.
	LongQueueIDs bool
	// ContentFilter adds a re-injection smtpd and routes mail through it.
	ContentFilter FilterMode
	// FilterSyslogName is the re-injection smtpd's syslog_name. Empty keeps
	// the default postfix/smtpd, as in Debian's amavis setup.
	FilterSyslogName string
	// SMTPS adds an smtps-like listener (implicit TLS, AUTH, same
	// restrictions as submission). FilterSMTPS turns it on.
	SMTPS bool
	// NoIMAP leaves out Dovecot's IMAP listener (only the auth service runs).
	NoIMAP bool
	// SharedLog makes Dovecot write into the Postfix log (as syslog does
	// with mail.log on Debian); DovecotLog then equals LogPath.
	SharedLog bool
	// Relayhost overrides the relayhost, e.g. "[127.0.0.1]:2525" for a fake
	// remote MX. By default external mail goes to a loopback port where
	// nothing listens and stays deferred.
	Relayhost string
	// Users are created before the servers start (login is the full
	// address, e.g. "alice@lab.test"). Start also creates DefaultUsers.
	Users map[string]string
	// ExtraMain holds more "name = value" main.cf settings, applied last.
	ExtraMain []string
}

// DefaultUsers are the mailboxes every lab has, login to password.
var DefaultUsers = map[string]string{
	"alice@lab.test":      "alice-secret-1",
	"bob@lab.test":        "bob-secret-2",
	"carol@lab.test":      "carol-secret-3",
	"postmaster@lab.test": "postmaster-secret-4",
}

// Lab is a running private Postfix and Dovecot pair. The exported fields are
// read-only paths into the lab directory.
type Lab struct {
	Dir          string // lab root (0755)
	ConfigDir    string // Postfix config_directory: postfix -c ConfigDir
	QueueDir     string // Postfix queue_directory
	DovecotConf  string // Dovecot config file: dovecot -c DovecotConf, doveadm -c DovecotConf
	PasswdFile   string // Dovecot passwd-file (passdb and userdb), root:dovecot 0640
	MailDir      string // mailboxes: MailDir/lab.test/alice/Maildir
	DovecotLog   string // Dovecot's log file
	maillog      string
	dataDir      string
	dovecotRun   string
	dovecotState string
	authSocket   string
	vmailboxPath string
	tlsChain     string
	relayhost    string
	instance     string
	mailUID      int
	mailGID      int

	opts  Options
	ports ports
	logf  func(string, ...any)
	bins  binaries

	mu       sync.Mutex
	users    map[string]string // login -> passwd-file line
	stopped  bool
	leftover []int // pids still running after stop
}

type binaries struct {
	postfix, postconf, postqueue, postsuper, postcat, postmap, dovecot, doveadm string
	daemonDir                                                                   string
}

func findBinaries() (binaries, error) {
	var b binaries
	var missing []string
	look := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				return p
			}
		}
		missing = append(missing, name)
		return ""
	}
	b.postfix = look("postfix")
	b.postconf = look("postconf")
	b.postqueue = look("postqueue")
	b.postsuper = look("postsuper")
	b.postcat = look("postcat")
	b.postmap = look("postmap")
	b.dovecot = look("dovecot")
	b.doveadm = look("doveadm")
	b.daemonDir = "/usr/lib/postfix/sbin"
	if len(missing) > 0 {
		return b, fmt.Errorf("missing programs: %s", strings.Join(missing, ", "))
	}
	return b, nil
}

// unavailable skips the test loudly, or fails it under CI.
func unavailable(t testing.TB, why string) {
	t.Helper()
	msg := "testlab: REAL POSTFIX/DOVECOT LAB UNAVAILABLE: " + why +
		" (run .ci/install-servers as root; integration test not run)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Available reports whether Start can run here (root, programs installed),
// and why not.
func Available() (bool, string) {
	if os.Geteuid() != 0 {
		return false, "not running as root"
	}
	if _, err := findBinaries(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// Start starts a private lab and registers its shutdown with t.Cleanup. It
// skips (or, with CI set, fails) the test when the lab cannot run here.
func Start(t testing.TB, opts Options) *Lab {
	t.Helper()
	if ok, why := Available(); !ok {
		unavailable(t, why)
	}
	t0 := time.Now()
	l, err := New(opts, t.Logf)
	if err != nil {
		t.Fatalf("testlab: %v", err)
	}
	t.Logf("testlab: lab %s started in %v (submission %s)", l.Dir, time.Since(t0).Round(time.Millisecond), l.SubmissionAddr())
	t.Cleanup(func() {
		l.stop()
		if t.Failed() {
			t.Logf("testlab: test failed; last lines of %s:\n%s", l.maillog, tail(l.maillog, 40))
			t.Logf("testlab: last lines of %s:\n%s", l.DovecotLog, tail(l.DovecotLog, 20))
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// New starts a lab outside a test (programs such as cmd/record); the caller
// must Close it. logf receives progress and warnings (nil: discard).
func New(opts Options, logf func(format string, args ...any)) (*Lab, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if ok, why := Available(); !ok {
		return nil, errors.New("lab unavailable: " + why)
	}
	reapOnce.Do(func() { reapStale(logf) })
	var lastErr error
	// Free ports are probed, then released for Postfix to bind: another
	// process can take one in between, so try a few times.
	for attempt := 0; attempt < 3; attempt++ {
		l, err := start(opts, logf)
		if err == nil {
			return l, nil
		}
		lastErr = err
		logf("testlab: start attempt %d: %v", attempt+1, err)
	}
	return nil, fmt.Errorf("start lab: %w", lastErr)
}

// Close stops the lab (see Stop) and removes its directory, unless the
// environment variable SASLGUARD_KEEP_LAB is set.
func (l *Lab) Close() error {
	l.stop()
	if os.Getenv("SASLGUARD_KEEP_LAB") != "" {
		// The stale-lab reaper leaves directories with this file alone.
		_ = os.WriteFile(filepath.Join(l.Dir, "kept"), nil, 0o644)
		l.logf("testlab: keeping %s (SASLGUARD_KEEP_LAB set)", l.Dir)
		return nil
	}
	if err := os.RemoveAll(l.Dir); err != nil {
		return fmt.Errorf("remove lab dir: %w", err)
	}
	if len(l.leftover) > 0 {
		return fmt.Errorf("processes of lab %s still running after stop: %v", l.Dir, l.leftover)
	}
	return nil
}

func start(opts Options, logf func(string, ...any)) (*Lab, error) {
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	// A short path: Dovecot's unix sockets live under it (108-byte limit).
	dir, err := os.MkdirTemp("", "sglab-")
	if err != nil {
		return nil, fmt.Errorf("create lab dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(processID(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write lab owner: %w", err)
	}
	l := &Lab{
		Dir:          dir,
		ConfigDir:    filepath.Join(dir, "postfix"),
		QueueDir:     filepath.Join(dir, "queue"),
		DovecotConf:  filepath.Join(dir, "dovecot", "dovecot.conf"),
		PasswdFile:   filepath.Join(dir, "dovecot", "users"),
		MailDir:      filepath.Join(dir, "mail"),
		DovecotLog:   filepath.Join(dir, "log", "dovecot.log"),
		maillog:      filepath.Join(dir, "log", "maillog"),
		dataDir:      filepath.Join(dir, "data"),
		dovecotRun:   filepath.Join(dir, "dovecot", "run"),
		dovecotState: filepath.Join(dir, "dovecot", "state"),
		authSocket:   filepath.Join(dir, "dovecot", "run", "auth-postfix"),
		vmailboxPath: filepath.Join(dir, "postfix", "vmailbox"),
		tlsChain:     filepath.Join(dir, "postfix", "chain.pem"),
		instance:     "sglab-" + filepath.Base(dir)[len("sglab-"):],
		opts:         opts,
		logf:         logf,
		bins:         bins,
		users:        map[string]string{},
	}
	ok := false
	defer func() {
		if !ok {
			l.stop()
			os.RemoveAll(dir)
		}
	}()
	if opts.SharedLog {
		l.DovecotLog = l.maillog
	}
	if opts.ContentFilter == FilterSMTPS {
		l.opts.SMTPS = true
	}
	if err := l.prepare(); err != nil {
		return nil, err
	}
	if err := l.startDovecot(); err != nil {
		return nil, err
	}
	if err := l.startPostfix(); err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

var reapOnce sync.Once

// processID identifies a live process: its pid and start time (so a reused
// pid does not pass for the old process). Empty when the process is gone.
func processID(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The start time is field 22; fields after the command name (which may
	// hold spaces) start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return "" // a zombie is dead (this machine's init may be slow to reap)
	}
	return fmt.Sprintf("%d %s", pid, f[19])
}

// reapStale stops and removes labs whose test process died without running
// its cleanup (a killed "go test"), so they do not pile up. Labs of live
// processes are never touched.
func reapStale(logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "sglab-*"))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "kept")); err == nil {
			continue // kept on purpose (SASLGUARD_KEEP_LAB)
		}
		owner, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue // being created right now, or not ours
		}
		f := strings.Fields(string(owner))
		if len(f) != 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil || processID(pid) == string(owner) {
			continue
		}
		stale := &Lab{Dir: d, QueueDir: filepath.Join(d, "queue"), dovecotRun: filepath.Join(d, "dovecot", "run")}
		stale.stopped = false
		stale.stop()
		if err := os.RemoveAll(d); err == nil {
			logf("testlab: removed stale lab %s (owner process %d is gone)", d, pid)
		}
	}
}

// validate refuses options that would inject lines into the generated
// configuration files.
func (o Options) validate() error {
	for _, v := range append([]string{o.FilterSyslogName, o.Relayhost}, o.ExtraMain...) {
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("invalid option value %q: contains CR, LF or NUL", v)
		}
	}
	for _, v := range []string{o.FilterSyslogName, o.Relayhost} {
		if strings.ContainsAny(v, " \t") {
			return fmt.Errorf("invalid option value %q: contains white space", v)
		}
	}
	for _, kv := range o.ExtraMain {
		if k, _, ok := strings.Cut(kv, "="); !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(strings.TrimSpace(k), " \t#") {
			return fmt.Errorf("invalid ExtraMain entry %q: want name = value", kv)
		}
	}
	return nil
}

func (l *Lab) prepare() error {
	if err := l.opts.validate(); err != nil {
		return err
	}
	mail, err := user.Lookup("nobody")
	if err != nil {
		return fmt.Errorf("look up mailbox owner nobody: %w", err)
	}
	l.mailUID, _ = strconv.Atoi(mail.Uid)
	l.mailGID, _ = strconv.Atoi(mail.Gid)
	dove, err := user.LookupGroup("dovecot")
	if err != nil {
		return fmt.Errorf("look up group dovecot: %w", err)
	}
	doveGID, _ := strconv.Atoi(dove.Gid)

	if err := os.Chmod(l.Dir, 0o755); err != nil {
		return fmt.Errorf("chmod lab dir: %w", err)
	}
	for _, d := range []string{l.ConfigDir, l.QueueDir, l.dataDir, filepath.Dir(l.maillog),
		filepath.Dir(l.DovecotConf), l.dovecotRun, l.dovecotState, l.MailDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	if err := os.Chown(l.dataDir, uidOf("postfix"), -1); err != nil {
		return fmt.Errorf("chown data dir: %w", err)
	}
	if err := os.Chown(l.MailDir, l.mailUID, l.mailGID); err != nil {
		return fmt.Errorf("chown mail dir: %w", err)
	}

	n := 2
	if l.opts.SMTPS {
		n++
	}
	if l.opts.ContentFilter != FilterOff {
		n++
	}
	if !l.opts.NoIMAP {
		n++
	}
	ps, err := freePorts(n)
	if err != nil {
		return err
	}
	l.ports.SMTP, l.ports.Submission = ps[0], ps[1]
	ps = ps[2:]
	if l.opts.SMTPS {
		l.ports.SMTPS, ps = ps[0], ps[1:]
	}
	if l.opts.ContentFilter != FilterOff {
		l.ports.Reinject, ps = ps[0], ps[1:]
	}
	if !l.opts.NoIMAP {
		l.ports.IMAP = ps[0]
	}
	// External mail goes to a privileged port where nothing listens: the
	// kernel never hands those out for ":0", so no other lab's listener can
	// land on it later, and it is checked to be free now.
	if l.ports.DeadRelay, err = deadPort(); err != nil {
		return err
	}
	l.relayhost = fmt.Sprintf("[127.0.0.1]:%d", l.ports.DeadRelay)
	if l.opts.Relayhost != "" {
		l.relayhost = l.opts.Relayhost
	}
	if l.opts.SMTPS {
		if err := writeSelfSigned(l.tlsChain); err != nil {
			return err
		}
	}

	users := map[string]string{}
	for k, v := range DefaultUsers {
		users[k] = v
	}
	for k, v := range l.opts.Users {
		users[k] = v
	}
	for login, pw := range users {
		line, err := passwdLine(login, pw)
		if err != nil {
			return err
		}
		l.users[login] = line
	}
	files := []struct {
		path, body string
	}{
		{filepath.Join(l.ConfigDir, "main.cf"), l.mainCF()},
		{filepath.Join(l.ConfigDir, "master.cf"), l.masterCF()},
		{l.DovecotConf, l.dovecotConf()},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte(f.body), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		// Postfix commands pause ~1.8 s when main.cf is brand new (measured:
		// postmap takes 1.8 s instead of 10 ms); backdating it saves that.
		past := time.Now().Add(-time.Minute)
		if err := os.Chtimes(f.path, past, past); err != nil {
			return fmt.Errorf("backdate %s: %w", f.path, err)
		}
	}
	if err := l.writePasswd(doveGID); err != nil {
		return err
	}
	return l.writeVmailbox()
}

func uidOf(name string) int {
	u, err := user.Lookup(name)
	if err != nil {
		return -1
	}
	id, _ := strconv.Atoi(u.Uid)
	return id
}

// deadPort returns a port in 900-999 on 127.0.0.1 that nothing listens on.
func deadPort() (int, error) {
	start := 900 + os.Getpid()%100
	for i := 0; i < 100; i++ {
		p := 900 + (start-900+i*37)%100
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ln.Close()
		return p, nil
	}
	return 0, errors.New("no free port in 127.0.0.1:900-999 for the dead relay")
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func (l *Lab) startDovecot() error {
	out, err := l.runDetached(l.bins.dovecot, "-c", l.DovecotConf)
	if err != nil {
		return fmt.Errorf("start dovecot: %w: %s", err, out)
	}
	if err := waitFor(10*time.Second, func() bool {
		_, err := os.Stat(l.authSocket)
		return err == nil
	}); err != nil {
		return fmt.Errorf("dovecot auth socket %s did not appear: %w; log:\n%s", l.authSocket, err, tail(l.DovecotLog, 20))
	}
	return nil
}

func (l *Lab) startPostfix() error {
	out, err := l.runDetached(l.bins.postfix, "-c", l.ConfigDir, "start")
	if err != nil {
		return fmt.Errorf("postfix start: %w: %s; log:\n%s", err, out, tail(l.maillog, 20))
	}
	// "master -w" returns once the master has bound every listener.
	if pid := readPid(filepath.Join(l.QueueDir, "pid", "master.pid")); pid == 0 || !alive(pid) {
		return fmt.Errorf("postfix master not running after start: %s", out)
	}
	return nil
}

// Stop stops Postfix and Dovecot and kills any process left of this lab. It
// is safe to call more than once; Start registers it with t.Cleanup.
func (l *Lab) Stop() { l.stop() }

func (l *Lab) stop() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	l.mu.Unlock()

	// A pid file can outlive its process and the pid be reused (a stale
	// lab): signal only processes that are verifiably this lab's.
	mine := map[int]bool{}
	for _, pid := range l.processes() {
		mine[pid] = true
	}
	var masters []int
	for _, p := range []string{
		filepath.Join(l.QueueDir, "pid", "master.pid"),
		filepath.Join(l.dovecotRun, "master.pid"),
	} {
		if pid := readPid(p); pid > 0 && mine[pid] {
			masters = append(masters, pid)
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	_ = waitFor(5*time.Second, func() bool {
		for _, pid := range masters {
			if alive(pid) && l.owns(pid) {
				return false
			}
		}
		return true
	})
	// Whatever is left (a stuck master, orphaned children) is killed.
	for i := 0; i < 3; i++ {
		left := l.processes()
		if len(left) == 0 {
			return
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.leftover = l.processes()
}

// owns reports whether pid is one of this lab's processes.
func (l *Lab) owns(pid int) bool {
	return l.belongs(filepath.Join("/proc", strconv.Itoa(pid)))
}

// belongs reports whether the process at /proc/PID has the lab directory as
// (or under) its working directory, or names it in its command line or
// environment.
func (l *Lab) belongs(base string) bool {
	if cwd, err := os.Readlink(filepath.Join(base, "cwd")); err == nil && (cwd == l.Dir || strings.HasPrefix(cwd, l.Dir+"/")) {
		return true
	}
	needle := []byte(l.Dir + "/")
	for _, f := range []string{"cmdline", "environ"} {
		b, err := os.ReadFile(filepath.Join(base, f))
		if err == nil && bytes.Contains(b, needle) {
			return true
		}
	}
	return false
}

// processes lists the pids of processes that belong to this lab: their
// working directory, command line or environment names the lab directory.
func (l *Lab) processes() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if l.belongs(filepath.Join("/proc", e.Name())) {
			out = append(out, pid)
		}
	}
	return out
}

// Processes returns the pids of the lab's running processes (for tests that
// check nothing is left behind).
func (l *Lab) Processes() []int { return l.processes() }

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func waitFor(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out after " + d.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs a program with an argument vector and returns its combined output.
// Its standard streams never stay attached to ours (daemons inherit them).
func (l *Lab) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

// runDetached runs a command that leaves a daemon behind. The daemon
// inherits the command's standard streams, so they go to a file in the lab
// (a pipe would never close) and the file's content is returned.
func (l *Lab) runDetached(name string, args ...string) ([]byte, error) {
	f, err := os.CreateTemp(filepath.Join(l.Dir, "log"), "start-*.out")
	if err != nil {
		return nil, fmt.Errorf("create start output file: %w", err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = f
	cmd.Stderr = f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Addresses of the lab's listeners.

// SMTPAddr is the port-25 equivalent (no AUTH; relays only for 127.0.0.1).
func (l *Lab) SMTPAddr() string { return hostPort(l.ports.SMTP) }

// SubmissionAddr is the submission listener (AUTH PLAIN/LOGIN, no TLS).
func (l *Lab) SubmissionAddr() string { return hostPort(l.ports.Submission) }

// SMTPSAddr is the smtps-like listener (implicit TLS), or "" when off.
func (l *Lab) SMTPSAddr() string { return hostPort(l.ports.SMTPS) }

// IMAPAddr is Dovecot's IMAP listener, or "" when off.
func (l *Lab) IMAPAddr() string { return hostPort(l.ports.IMAP) }

// ReinjectAddr is the content filter's return smtpd, or "" when off.
func (l *Lab) ReinjectAddr() string { return hostPort(l.ports.Reinject) }

// RelayAddr is where external mail is relayed (host:port without brackets).
func (l *Lab) RelayAddr() string {
	return strings.NewReplacer("[", "", "]", "").Replace(l.relayhost)
}

func hostPort(p int) string {
	if p == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

// LogPath is the Postfix log (maillog_file, written by postlogd in the
// classic syslog format).
func (l *Lab) LogPath() string { return l.maillog }

// Options returns the options the lab was started with.
func (l *Lab) Options() Options { return l.opts }

func execCommand(ctx context.Context, argv []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
