// Package postfixblock blocks stolen logins at Postfix with a
// check_sasl_access map that saslguard owns: one "login ACTION text" line per
// blocked login, rebuilt with postmap and announced with postfix reload. It
// also checks that the map is consulted where it matters (every smtpd service
// that offers AUTH, before permit_sasl_authenticated) and ends the live smtpd
// sessions of a login, which no map change reaches.
package postfixblock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
)

// Header opens every map file saslguard manages. A file at the map path that
// does not start with its first line is adopted only when every line in it
// can be kept as written (see parseFile); saslguard then adds its header and
// its own entries and never changes the lines it did not write.
const Header = headerFirst +
	"# saslguard rewrites its own entries (below the entries line, or all when there is none); other lines are kept as written.\n"

// headerFirst is the line that marks a map as saslguard's.
const headerFirst = "# Managed by saslguard: check_sasl_access map of blocked SASL logins.\n"

// oldHeaderSecond is the second header line of maps written before lines
// by hand were kept: it is replaced by Header's.
const oldHeaderSecond = "# Edit with saslguard (block/unblock); hand edits are overwritten."

// entriesLine separates the lines saslguard keeps as written (above it)
// from its own entries (below it). It is written only when there are lines
// to keep.
const entriesLine = "# saslguard entries: lines below are rewritten by saslguard; lines above are kept as written."

// DefaultMapName is the map's file name in the config directory.
const DefaultMapName = "saslguard_sasl_access"

// Config says which Postfix instance and which map file to manage.
type Config struct {
	ConfigDir string // -c for every Postfix command; "" means the default instance (/etc/postfix)
	BinDir    string // "" means /usr/sbin
	MapPath   string // "" means ConfigDir/saslguard_sasl_access
	MapType   string // "" means postconf default_database_type
	// QueueDir is the queue_directory (for the master's pid file when
	// ending sessions); "" asks postconf.
	QueueDir string
	Runner   postfixq.Runner // nil means postfixq.ExecRunner
	Logger   *slog.Logger    // nil discards
	// Registry, when set, records each block and unblock (source
	// "postfix-map").
	Registry mtablock.Registry
	// Now and Sleep are the clock for the one-second rule; nil means the
	// real clock.
	Now   func() time.Time
	Sleep func(time.Duration)
}

// Map is a saslguard-managed check_sasl_access map of one Postfix instance.
// It implements mtablock.Blocker.
type Map struct {
	cfg Config
	log *slog.Logger
}

var _ mtablock.Blocker = (*Map)(nil)

// New returns the map cfg describes, asking postconf for the map type and
// queue directory when cfg leaves them empty.
func New(ctx context.Context, cfg Config) (*Map, error) {
	if cfg.BinDir == "" {
		cfg.BinDir = "/usr/sbin"
	}
	if cfg.Runner == nil {
		cfg.Runner = postfixq.ExecRunner{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = time.Sleep
	}
	m := &Map{cfg: cfg, log: cfg.Logger}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if cfg.MapType == "" || cfg.QueueDir == "" {
		vals, err := postfixq.Postconf(ctx, cfg.Runner, m.bin("postconf"), cfg.ConfigDir, "default_database_type", "queue_directory")
		if err != nil {
			return nil, fmt.Errorf("postfix block map: %w", err)
		}
		if m.cfg.MapType == "" {
			m.cfg.MapType = vals["default_database_type"]
		}
		if m.cfg.QueueDir == "" {
			m.cfg.QueueDir = vals["queue_directory"]
		}
	}
	if dbSuffix(m.cfg.MapType) == "" {
		return nil, fmt.Errorf("postfix block map: unsupported map type %q (want hash, btree, lmdb or cdb)", m.cfg.MapType)
	}
	if m.cfg.MapPath == "" {
		dir := cfg.ConfigDir
		if dir == "" {
			dir = "/etc/postfix"
		}
		m.cfg.MapPath = filepath.Join(dir, DefaultMapName)
	}
	if !filepath.IsAbs(m.cfg.MapPath) {
		return nil, fmt.Errorf("postfix block map: path %q is not absolute", m.cfg.MapPath)
	}
	if strings.ContainsAny(m.cfg.MapPath, " \t\n,{}") {
		return nil, fmt.Errorf("postfix block map: path %q cannot stand in a restriction list", m.cfg.MapPath)
	}
	return m, nil
}

// Ref is the map as main.cf names it: TYPE:PATH.
func (m *Map) Ref() string { return m.cfg.MapType + ":" + m.cfg.MapPath }

// Path is the map's source file.
func (m *Map) Path() string { return m.cfg.MapPath }

func (m *Map) bin(name string) string { return filepath.Join(m.cfg.BinDir, name) }

func dbSuffix(typ string) string {
	switch typ {
	case "hash", "btree":
		return ".db"
	case "lmdb":
		return ".lmdb"
	case "cdb":
		return ".cdb"
	}
	return ""
}

// Block implements mtablock.Blocker: it adds or replaces login's entry,
// rebuilds the map, reloads Postfix and checks that the map is evaluated. A
// login that cannot be a map key comes back with NotBlockable set and no
// error: nothing was written.
func (m *Map) Block(ctx context.Context, login string, opts mtablock.Options) (mtablock.Result, error) {
	res := mtablock.Result{Login: login}
	if why := mtablock.ValidLogin(login); why != "" {
		res.NotBlockable = why + ": not blockable at the Postfix map"
		return res, nil
	}
	if opts.Text == "" {
		opts.Text = mtablock.DefaultText
	}
	if err := mtablock.ValidText(opts.Text); err != nil {
		return res, fmt.Errorf("block %s: %w", login, err)
	}
	if opts.Action < mtablock.Reject || opts.Action > mtablock.Hold {
		return res, fmt.Errorf("block %s: unknown action %v", login, opts.Action)
	}
	key := strings.ToLower(login)
	err := m.update(ctx, func(f *mapFile) ([]mtablock.Entry, error) {
		if n, ok := f.handKeys[key]; ok {
			return nil, fmt.Errorf("map %s line %d, not written by saslguard, already has an entry for this login (postmap keeps the first of two): remove that line or block by hand; nothing changed", m.cfg.MapPath, n)
		}
		es := slices.DeleteFunc(f.entries, func(e mtablock.Entry) bool { return e.Login == key })
		return append(es, mtablock.Entry{Login: key, Action: opts.Action, Text: opts.Text}), nil
	}, &res)
	if err != nil {
		return res, fmt.Errorf("block %s: %w", login, err)
	}
	if opts.Action == mtablock.Hold {
		res.Notes = append(res.Notes, "HOLD accepts the mail with 250: the client keeps sending and the hold queue grows")
	}
	// The registry says blocked only once the map is written and consulted.
	if m.cfg.Registry != nil && res.Blocked() {
		if _, err := m.cfg.Registry.Block(ctx, login, "postfix-map", opts.Action.String()+": "+opts.Text, 0); err != nil {
			return res, fmt.Errorf("block %s: record: %w", login, err)
		}
	}
	return res, nil
}

// Unblock implements mtablock.Blocker. Unblocking a login that is not in the
// map still rebuilds nothing and reports Written false.
func (m *Map) Unblock(ctx context.Context, login string) (mtablock.Result, error) {
	res := mtablock.Result{Login: login}
	if why := mtablock.ValidLogin(login); why != "" {
		res.NotBlockable = why + ": cannot be in the Postfix map"
		return res, nil
	}
	key := strings.ToLower(login)
	found := false
	err := m.update(ctx, func(f *mapFile) ([]mtablock.Entry, error) {
		n := len(f.entries)
		es := slices.DeleteFunc(f.entries, func(e mtablock.Entry) bool { return e.Login == key })
		found = len(es) != n
		if !found {
			if ln, ok := f.handKeys[key]; ok {
				res.Notes = append(res.Notes, fmt.Sprintf("map line %d has an entry for the login that saslguard did not write: left in place", ln))
			}
			return nil, nil // nothing to write
		}
		return es, nil
	}, &res)
	if err != nil {
		return res, fmt.Errorf("unblock %s: %w", login, err)
	}
	if m.cfg.Registry != nil && found {
		if err := m.cfg.Registry.Unblock(ctx, login); err != nil {
			return res, fmt.Errorf("unblock %s: record: %w", login, err)
		}
	}
	return res, nil
}

// List implements mtablock.Blocker: the entries saslguard wrote (lines
// written by hand are not listed).
func (m *Map) List(ctx context.Context) ([]mtablock.Entry, error) {
	f, err := m.read()
	if err != nil {
		return nil, fmt.Errorf("list blocked logins: %w", err)
	}
	return f.entries, nil
}

// update runs edit on the map under an exclusive lock, writes the entries
// it returns (with the lines saslguard did not write, unchanged; nothing
// when edit returns nil), rebuilds the map and reloads Postfix.
func (m *Map) update(ctx context.Context, edit func(*mapFile) ([]mtablock.Entry, error), res *mtablock.Result) error {
	unlock, err := lockFile(m.cfg.MapPath + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	f, err := m.read()
	if err != nil {
		return err
	}
	es, err := edit(&f)
	if err != nil {
		return err
	}
	if es == nil {
		res.Notes = append(res.Notes, "login was not in the map: nothing written")
		return nil
	}
	if err := m.write(ctx, f.hand, es); err != nil {
		return err
	}
	res.Written = true
	if err := m.reload(ctx); err != nil {
		// The daemons still notice the rebuilt map between sessions.
		res.Notes = append(res.Notes, "postfix reload failed: "+err.Error())
		m.log.Warn("postfix reload failed", slog.Any("err", err))
	}
	chk, err := m.Check(ctx)
	if err != nil {
		res.Notes = append(res.Notes, "configuration check failed: "+err.Error())
		return nil
	}
	res.Effective = chk.Effective()
	res.Notes = append(res.Notes, chk.Notes()...)
	return nil
}

// mapFile is a map source as saslguard reads it: the lines it did not
// write, kept as written, and its own entries.
type mapFile struct {
	hand     []string       // lines not written by saslguard, in order, without their newline
	handKeys map[string]int // lower-cased key of each entry among hand -> its line number
	entries  []mtablock.Entry
}

// read parses the map source; a missing file is an empty map.
func (m *Map) read() (mapFile, error) {
	b, err := os.ReadFile(m.cfg.MapPath)
	if errors.Is(err, os.ErrNotExist) {
		return mapFile{}, nil
	}
	if err != nil {
		return mapFile{}, fmt.Errorf("read map: %w", err)
	}
	f, err := parseFile(b)
	if err != nil {
		return mapFile{}, fmt.Errorf("map %s: %w: nothing changed", m.cfg.MapPath, err)
	}
	return f, nil
}

// parseFile splits a map source into the lines saslguard keeps as written
// and its own entries. A file without saslguard's header (empty, built by
// touch and postmap, or with an admin's entries) is all hand lines. It
// refuses what it cannot keep safely: NUL bytes, an entry line below the
// entries line that is not in saslguard's form.
func parseFile(b []byte) (mapFile, error) {
	f := mapFile{handKeys: map[string]int{}}
	if bytes.IndexByte(b, 0) >= 0 {
		return f, errors.New("contains NUL bytes: not a map source")
	}
	var lines []string
	if len(b) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	handFrom, handEnd, ownFrom := 0, len(lines), len(lines)
	if len(lines) > 0 && lines[0]+"\n" == headerFirst {
		handFrom = 1
		if len(lines) > 1 && (lines[1]+"\n" == Header[len(headerFirst):] || lines[1] == oldHeaderSecond) {
			handFrom = 2
		}
		handEnd, ownFrom = handFrom, handFrom
		if i := slices.Index(lines[handFrom:], entriesLine); i >= 0 {
			handEnd, ownFrom = handFrom+i, handFrom+i+1
		}
	}
	for i := handFrom; i < handEnd; i++ {
		line := lines[i]
		f.hand = append(f.hand, line)
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue // blank, comment, or the continuation of the line before
		}
		key, _, _ := strings.Cut(strings.TrimRight(line, "\r"), " ")
		key, _, _ = strings.Cut(key, "\t")
		key = strings.ToLower(key) // postmap folds keys to lower case
		if _, dup := f.handKeys[key]; !dup {
			f.handKeys[key] = i + 1
		}
	}
	own := lines[ownFrom:]
	for _, line := range own {
		if line != "" && line[0] == '#' {
			// a comment added by hand among saslguard's entries: kept
			f.hand = append(f.hand, line)
		}
	}
	es, err := parseEntries(own, ownFrom+1)
	if err != nil {
		if ownFrom > 0 {
			err = fmt.Errorf("%w (not in saslguard's form: move lines written by hand above the line %q)", err, entriesLine)
		}
		return f, err
	}
	f.entries = es
	return f, nil
}

// ParseMap parses a map source written by Render and returns saslguard's
// entries (lines it did not write are not returned).
func ParseMap(b []byte) ([]mtablock.Entry, error) {
	f, err := parseFile(b)
	if err != nil {
		return nil, err
	}
	return f.entries, nil
}

// parseEntries parses lines in the form Render writes; first is the line
// number of lines[0].
func parseEntries(lines []string, first int) ([]mtablock.Entry, error) {
	var es []mtablock.Entry
	for i, line := range lines {
		n := first + i
		if line == "" || line[0] == '#' {
			continue
		}
		key, rest, ok := strings.Cut(line, " ")
		if !ok || mtablock.ValidLogin(key) != "" {
			return nil, fmt.Errorf("map line %d: bad key", n)
		}
		e := mtablock.Entry{Login: key}
		switch {
		case strings.HasPrefix(rest, "REJECT "):
			e.Action, e.Text = mtablock.Reject, rest[len("REJECT "):]
		case strings.HasPrefix(rest, "421 4.7.0 "):
			e.Action, e.Text = mtablock.TempFail, rest[len("421 4.7.0 "):]
		case strings.HasPrefix(rest, "HOLD "):
			e.Action, e.Text = mtablock.Hold, rest[len("HOLD "):]
		default:
			return nil, fmt.Errorf("map line %d: unknown action", n)
		}
		if mtablock.ValidText(e.Text) != nil {
			return nil, fmt.Errorf("map line %d: bad reply text", n)
		}
		es = append(es, e)
	}
	return es, nil
}

// Render returns the map source for es: the header, then one sorted line per
// entry. Entries whose login or text fail validation are an error: nothing
// unvalidated reaches the file.
func Render(es []mtablock.Entry) ([]byte, error) { return render(nil, es) }

// render is Render with the lines saslguard did not write kept, as written,
// between the header and its entries.
func render(hand []string, es []mtablock.Entry) ([]byte, error) {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b mtablock.Entry) int { return strings.Compare(a.Login, b.Login) })
	var buf bytes.Buffer
	buf.WriteString(Header)
	if len(hand) > 0 {
		for _, l := range hand {
			buf.WriteString(l)
			buf.WriteByte('\n')
		}
		buf.WriteString(entriesLine + "\n")
	}
	for _, e := range es {
		if why := mtablock.ValidLogin(e.Login); why != "" {
			return nil, fmt.Errorf("render map: %s", why)
		}
		if err := mtablock.ValidText(e.Text); err != nil {
			return nil, fmt.Errorf("render map: %w", err)
		}
		var action string
		switch e.Action {
		case mtablock.Reject:
			action = "REJECT"
		case mtablock.TempFail:
			action = "421 4.7.0"
		case mtablock.Hold:
			action = "HOLD"
		default:
			return nil, fmt.Errorf("render map: unknown action %v", e.Action)
		}
		fmt.Fprintf(&buf, "%s %s %s\n", e.Login, action, e.Text)
	}
	return buf.Bytes(), nil
}

// write renders es, builds the indexed file from a temporary source with
// postmap, then renames the indexed file and the source into place, so a
// reader sees the old map or the new one, never a partial one.
func (m *Map) write(ctx context.Context, hand []string, es []mtablock.Entry) error {
	src, err := render(hand, es)
	if err != nil {
		return err
	}
	tmp := m.cfg.MapPath + ".saslguard-new"
	suffix := dbSuffix(m.cfg.MapType)
	defer os.Remove(tmp)
	defer os.Remove(tmp + suffix)
	if err := WriteFileSync(tmp, src, 0o644); err != nil {
		return err
	}
	m.waitNextSecond(m.cfg.MapPath + suffix)
	argv := postfixq.CommandArgv(m.bin("postmap"), m.cfg.ConfigDir, m.cfg.MapType+":"+tmp)
	if stderr, err := m.cfg.Runner.Run(ctx, argv, nil, io.Discard); err != nil {
		return fmt.Errorf("postmap: %w: %s", err, strings.TrimSpace(string(stderr)))
	}
	if err := syncPath(tmp + suffix); err != nil {
		return err
	}
	if err := os.Rename(tmp+suffix, m.cfg.MapPath+suffix); err != nil {
		return fmt.Errorf("install map: %w", err)
	}
	if err := os.Rename(tmp, m.cfg.MapPath); err != nil {
		return fmt.Errorf("install map source: %w", err)
	}
	return syncPath(filepath.Dir(m.cfg.MapPath))
}

// waitNextSecond sleeps into the next second when the indexed file was
// changed in the current one: Postfix daemons compare modification times in
// whole seconds, so two rebuilds within one second could look like one.
func (m *Map) waitNextSecond(db string) {
	st, err := os.Stat(db)
	if err != nil {
		return
	}
	now := m.cfg.Now()
	if st.ModTime().Unix() >= now.Unix() {
		next := time.Unix(st.ModTime().Unix()+1, 0)
		m.cfg.Sleep(next.Sub(now))
	}
}

func (m *Map) reload(ctx context.Context) error {
	argv := postfixq.CommandArgv(m.bin("postfix"), m.cfg.ConfigDir, "reload")
	if stderr, err := m.cfg.Runner.Run(ctx, argv, nil, io.Discard); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(stderr)))
	}
	return nil
}

// WriteFileSync writes data to a new file at path (replacing any), syncs it,
// and sets mode. It does not sync the directory.
func WriteFileSync(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}

// lockFile takes an exclusive flock on path, so two saslguard processes do
// not interleave their read-modify-write of the map.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock map: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock map: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
