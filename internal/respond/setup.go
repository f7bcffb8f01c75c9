package respond

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/account"
	"github.com/saslguard/saslguard/internal/account/command"
	"github.com/saslguard/saslguard/internal/account/passwdfile"
	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/quarantine"
	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
	"github.com/saslguard/saslguard/internal/store"
)

// DefaultStateDir is where the incident store lives by default.
const DefaultStateDir = "/var/lib/saslguard"

// Settings are respond's configuration: the [respond] section of the
// configuration file, or command line flags.
type Settings struct {
	PostfixConfig string // Postfix config_directory ("" for the default instance)
	PostfixBin    string // directory of the Postfix tools ("" for /usr/sbin)
	MapPath       string // "" for PostfixConfig/saslguard_sasl_access
	PasswdFile    string // Dovecot passwd-file backend
	DoveadmConfig string // doveadm -c
	// ExecBackend is an admin program (absolute path) run as
	// PROGRAM disable|enable|status -- LOGIN; it replaces PasswdFile.
	ExecBackend string
	StateDir    string // incident store ("" for DefaultStateDir)
	Quarantine  string // "" for StateDir/quarantine
	Action      string // reject (default), tempfail/421, hold
	Text        string
	Allow       map[string]bool
	HoldAll     bool
	Reset       bool
	EndByIP     bool
	NoSessions  bool
	// ReadOnly opens an existing store only and creates nothing (a dry run,
	// a listing): a state directory or database that does not exist is
	// store.ErrNoStore.
	ReadOnly bool
	// NoStoreOK, with ReadOnly, plans on an empty store in memory when the
	// state directory holds none yet (a first dry run on a new host).
	NoStoreOK bool
}

// Env is a Responder with what it was built on.
type Env struct {
	*Responder
	Store *store.Store
	Queue *postfixq.Queue
	// Mgr is Queue as respond uses it (Inspect skips ids already gone).
	Mgr  queue.Manager
	Map  *postfixblock.Map
	Quar *quarantine.Quarantine
	// NoStore is set when no store existed (Settings.NoStoreOK): Store is
	// an empty one in memory.
	NoStore bool
}

// Close closes the store.
func (e *Env) Close() error { return e.Store.Close() }

// Setup opens the store, the Postfix queue and map, the account backend and
// the quarantine that s names.
func Setup(ctx context.Context, s Settings, out io.Writer) (*Env, error) {
	if s.StateDir == "" {
		s.StateDir = DefaultStateDir
	}
	if s.Quarantine == "" {
		s.Quarantine = filepath.Join(s.StateDir, "quarantine")
	}
	act := mtablock.Reject
	if s.Action != "" {
		var err error
		if act, err = mtablock.ParseAction(s.Action); err != nil {
			return nil, err
		}
	}
	q, err := postfixq.New(ctx, postfixq.Config{ConfigDir: s.PostfixConfig, BinDir: s.PostfixBin})
	if err != nil {
		return nil, fmt.Errorf("postfix queue: %w", postfixHint(err))
	}
	m, err := postfixblock.New(ctx, postfixblock.Config{ConfigDir: s.PostfixConfig, BinDir: s.PostfixBin, MapPath: s.MapPath})
	if err != nil {
		return nil, fmt.Errorf("postfix map: %w", postfixHint(err))
	}
	var backend account.Backend
	var backendName string
	switch {
	case s.ExecBackend != "":
		b, err := command.New(command.Config{Program: s.ExecBackend})
		if err != nil {
			return nil, err
		}
		backend, backendName = b, "exec backend "+s.ExecBackend
	case s.PasswdFile != "":
		b, err := passwdfile.New(passwdfile.Config{Path: s.PasswdFile, DovecotConfig: s.DoveadmConfig})
		if err != nil {
			return nil, err
		}
		backend, backendName = b, "passwd-file "+s.PasswdFile
	}
	var st *store.Store
	noStore := false
	if s.ReadOnly {
		st, err = store.OpenExistingDir(s.StateDir)
		if errors.Is(err, store.ErrNoStore) && s.NoStoreOK {
			noStore = true
			st, err = store.OpenMemory()
		}
	} else {
		st, err = store.OpenDir(s.StateDir)
	}
	if err != nil {
		return nil, fmt.Errorf("incident store: %w", err)
	}
	pq := presentQueue{q}
	qq, err := quarantine.New(quarantine.Config{Root: s.Quarantine}, pq)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	bin := s.PostfixBin
	if bin == "" {
		bin = "/usr/sbin"
	}
	var lifetime time.Duration
	if v, err := postfixq.Postconf(ctx, postfixq.ExecRunner{}, filepath.Join(bin, "postconf"), s.PostfixConfig, "maximal_queue_lifetime"); err == nil {
		lifetime, _ = PostfixDuration(v["maximal_queue_lifetime"], 'd')
	}
	cfg := Config{
		Store: st, Queue: pq, MTA: m, Account: backend, AccountName: backendName,
		Quarantine: qq, QuarantineDir: s.Quarantine, Allow: s.Allow,
		Block:   mtablock.Options{Action: act, Text: s.Text},
		HoldAll: s.HoldAll, ResetPassword: s.Reset, EndByIP: s.EndByIP,
		MaxQueueLifetime: lifetime,
		Commands: Commands{
			Postsuper: postfixq.CommandArgv(filepath.Join(bin, "postsuper"), s.PostfixConfig),
			Postqueue: postfixq.CommandArgv(filepath.Join(bin, "postqueue"), s.PostfixConfig),
		},
		Out: out,
	}
	if !s.NoSessions {
		cfg.Sessions = m.Sessions()
	}
	r, err := New(cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Env{Responder: r, Store: st, Queue: q, Mgr: pq, Map: m, Quar: qq, NoStore: noStore}, nil
}

// PostfixDuration parses a Postfix time value ("5d", "3600s", "2w"; a bare
// number has unit def).
func PostfixDuration(v string, def byte) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, fmt.Errorf("empty time value")
	}
	unit := def
	if c := v[len(v)-1]; c < '0' || c > '9' {
		unit, v = c, v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad time value %q", v)
	}
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	u, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("bad time unit %q", unit)
	}
	if n > int64(math.MaxInt64/u) {
		return 0, fmt.Errorf("time value %q too large", v)
	}
	return time.Duration(n) * u, nil
}
