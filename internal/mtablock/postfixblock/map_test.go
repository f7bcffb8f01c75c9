package postfixblock

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/saslguard/saslguard/internal/mtablock"
)

// fakeTools replays postconf from recorded files and imitates postmap (it
// writes SOURCE.db) and postfix reload.
type fakeTools struct {
	dir   string // testdata prefix, e.g. "testdata/mua"
	calls [][]string
	fail  map[string]bool
}

func (f *fakeTools) Run(ctx context.Context, argv []string, stdin io.Reader, stdout io.Writer) ([]byte, error) {
	f.calls = append(f.calls, argv)
	prog := filepath.Base(argv[0])
	if f.fail[prog] {
		return []byte(prog + ": fatal: simulated"), fmt.Errorf("exit status 1")
	}
	args := argv[1:]
	if len(args) >= 2 && args[0] == "-c" {
		args = args[2:]
	}
	switch prog {
	case "postconf":
		switch {
		case args[0] == "-F":
			return nil, copyFile(stdout, f.dir+".F")
		case args[0] == "-P":
			return nil, copyFile(stdout, f.dir+".P")
		case args[0] == "-x" && args[1] == "smtpd_sasl_auth_enable":
			return nil, copyFile(stdout, f.dir+".main")
		case args[0] == "-x":
			fmt.Fprintf(stdout, "default_database_type = hash\nqueue_directory = /nonexistent\n")
			return nil, nil
		}
	case "postmap":
		typ, src, _ := strings.Cut(args[0], ":")
		if typ != "hash" {
			return nil, fmt.Errorf("fake postmap: type %q", typ)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		return nil, os.WriteFile(src+".db", append([]byte("DB\n"), b...), 0o644)
	case "postfix":
		return nil, nil
	}
	return nil, fmt.Errorf("fake: unexpected %q", argv)
}

func copyFile(w io.Writer, p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func newTestMap(t *testing.T, sample string) (*Map, *fakeTools) {
	t.Helper()
	dir := t.TempDir()
	f := &fakeTools{dir: "testdata/" + sample}
	m, err := New(context.Background(), Config{ConfigDir: "/lab/etc", MapPath: filepath.Join(dir, "sg"), Runner: f,
		Now: func() time.Time { return time.Unix(0, 0) }, Sleep: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	f.calls = nil
	return m, f
}

func TestBlockWritesMapAndReports(t *testing.T) {
	m, f := newTestMap(t, "mua")
	if m.Ref() != "hash:"+m.cfg.MapPath {
		t.Fatalf("ref = %s", m.Ref())
	}
	res, err := m.Block(context.Background(), "Alice@Lab.Test", mtablock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Written || res.Effective {
		t.Errorf("result = %+v: written, and not effective (the recorded map path differs)", res)
	}
	res, err = m.Block(context.Background(), "bob@lab.test", mtablock.Options{Action: mtablock.TempFail, Text: "too much mail"})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(m.cfg.MapPath)
	want := Header + "alice@lab.test REJECT " + mtablock.DefaultText + "\nbob@lab.test 421 4.7.0 too much mail\n"
	if d := cmp.Diff(want, string(src)); d != "" {
		t.Errorf("map source (-want +got):\n%s", d)
	}
	db, _ := os.ReadFile(m.cfg.MapPath + ".db")
	if !bytes.Equal(db, append([]byte("DB\n"), src...)) {
		t.Errorf("indexed file does not match source: %q", db)
	}
	left, _ := filepath.Glob(m.cfg.MapPath + ".saslguard-new*")
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	var sawPostmap, sawReload bool
	for _, c := range f.calls {
		if c[1] != "-c" || c[2] != "/lab/etc" {
			t.Errorf("call without -c: %q", c)
		}
		sawPostmap = sawPostmap || filepath.Base(c[0]) == "postmap"
		sawReload = sawReload || (filepath.Base(c[0]) == "postfix" && c[len(c)-1] == "reload")
	}
	if !sawPostmap || !sawReload {
		t.Errorf("postmap %v reload %v: %q", sawPostmap, sawReload, f.calls)
	}
	es, err := m.List(context.Background())
	if err != nil || len(es) != 2 || es[1].Action != mtablock.TempFail {
		t.Errorf("list = %+v, %v", es, err)
	}
	res, err = m.Unblock(context.Background(), "ALICE@lab.test")
	if err != nil || !res.Written {
		t.Errorf("unblock = %+v, %v", res, err)
	}
	res, err = m.Unblock(context.Background(), "nobody@lab.test")
	if err != nil || res.Written {
		t.Errorf("unblock of absent login = %+v, %v", res, err)
	}
	src, _ = os.ReadFile(m.cfg.MapPath)
	if strings.Contains(string(src), "alice") {
		t.Errorf("alice still in map:\n%s", src)
	}
}

// effectiveTestMap is a test map at the path the recorded configuration
// consults in every AUTH service.
func effectiveTestMap(t *testing.T) *Map {
	m, _ := newTestMap(t, "mua")
	dir := t.TempDir()
	m.cfg.MapPath = filepath.Join(dir, "sg")
	mua := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("/etc/postfix/sg"), []byte(m.cfg.MapPath)) }
	for _, ext := range []string{".F", ".P", ".main"} {
		b, _ := os.ReadFile("testdata/mua" + ext)
		os.WriteFile(filepath.Join(dir, "mua"+ext), mua(b), 0o644)
	}
	m.cfg.Runner.(*fakeTools).dir = filepath.Join(dir, "mua")
	return m
}

func TestBlockEffectiveWhenConfigured(t *testing.T) {
	m := effectiveTestMap(t)
	res, err := m.Block(context.Background(), "alice@lab.test", mtablock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Blocked() {
		t.Errorf("not blocked: %+v", res)
	}
}

func TestBlockHostileLogins(t *testing.T) {
	m, f := newTestMap(t, "mua")
	hostile := []string{
		"alice@lab.test REJECT\nbob@lab.test", "alice @lab.test", "\"alice\"", "'a'", "-alice", "#alice",
		"jörg@lab.test", strings.Repeat("x", 10*1024), "a\rb", "",
	}
	for _, login := range hostile {
		res, err := m.Block(context.Background(), login, mtablock.Options{})
		if err != nil {
			t.Errorf("Block(%.30q) error %v, want a NotBlockable result", login, err)
		}
		if res.NotBlockable == "" || res.Written || res.Blocked() {
			t.Errorf("Block(%.30q) = %+v", login, res)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("hostile logins reached commands: %q", f.calls)
	}
	if _, err := os.Stat(m.cfg.MapPath); !os.IsNotExist(err) {
		t.Errorf("map file written: %v", err)
	}
	if _, err := m.Block(context.Background(), "alice@lab.test", mtablock.Options{Text: "ok\r\n250 fake"}); err == nil {
		t.Error("hostile reply text accepted")
	}
}

// TestAdoptsMapNotWrittenBySaslguard: a map file saslguard did not write (an
// empty one from touch and postmap, or one with an admin's entries) is
// adopted: saslguard adds its header and entries and keeps every line it
// did not write. What it cannot keep safely it refuses, changing nothing.
func TestAdoptsMapNotWrittenBySaslguard(t *testing.T) {
	alice := "alice@lab.test REJECT " + mtablock.DefaultText + "\n"
	hand := "# by hand\nadmin@lab.test OK\nlong@lab.test REJECT first part\n  continued\n"
	for _, tc := range []struct {
		name, file string
		want       string // "" for a refusal
	}{
		{"empty", "", Header + alice},
		{"one blank line", "\n", Header + "\n" + entriesLine + "\n" + alice},
		{"admin entries", hand, Header + hand + entriesLine + "\n" + alice},
		{"admin entries without a final newline", strings.TrimSuffix(hand, "\n"), Header + hand + entriesLine + "\n" + alice},
		{"saslguard map with lines by hand", Header + hand + entriesLine + "\nbob@lab.test REJECT x\n",
			Header + hand + entriesLine + "\n" + alice + "bob@lab.test REJECT x\n"},
		{"older saslguard map", headerFirst + oldHeaderSecond + "\nbob@lab.test REJECT x\n",
			Header + alice + "bob@lab.test REJECT x\n"},
		{"comment added among saslguard's entries", Header + "bob@lab.test REJECT x\n# why bob\n",
			Header + "# why bob\n" + entriesLine + "\n" + alice + "bob@lab.test REJECT x\n"},
		{"admin entry for the login", "Alice@Lab.Test OK\n", ""},
		{"admin entry for the login after a tab", "ALICE@lab.test\tOK\n", ""},
		{"NUL byte", "admin@lab.test OK\x00\n", ""},
		{"entry by hand among saslguard's", Header + "bob@lab.test OK\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, f := newTestMap(t, "mua")
			os.WriteFile(m.cfg.MapPath, []byte(tc.file), 0o644)
			_, err := m.Block(context.Background(), "alice@lab.test", mtablock.Options{})
			got, _ := os.ReadFile(m.cfg.MapPath)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("block accepted; map now:\n%s", got)
				}
				if string(got) != tc.file || len(f.calls) != 0 {
					t.Errorf("refused block changed the map (%q) or ran %q", got, f.calls)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, string(got)); d != "" {
				t.Fatalf("map (-want +got):\n%s", d)
			}
			if es, err := m.List(context.Background()); err != nil || !slices.ContainsFunc(es, func(e mtablock.Entry) bool { return e.Login == "alice@lab.test" }) ||
				slices.ContainsFunc(es, func(e mtablock.Entry) bool { return strings.HasPrefix(e.Login, "admin") }) {
				t.Errorf("list = %+v, %v: want saslguard's entries only", es, err)
			}
			// Unblocking takes out saslguard's line only.
			if _, err := m.Unblock(context.Background(), "alice@lab.test"); err != nil {
				t.Fatal(err)
			}
			got, _ = os.ReadFile(m.cfg.MapPath)
			if want := strings.Replace(tc.want, alice, "", 1); string(got) != want {
				t.Errorf("after unblock:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestWaitNextSecond(t *testing.T) {
	m, _ := newTestMap(t, "mua")
	db := m.cfg.MapPath + ".db"
	os.WriteFile(db, nil, 0o644)
	mt := time.Unix(1_800_000_000, 0)
	os.Chtimes(db, mt, mt)
	var slept time.Duration
	m.cfg.Sleep = func(d time.Duration) { slept = d }
	m.cfg.Now = func() time.Time { return mt.Add(300 * time.Millisecond) }
	m.waitNextSecond(db)
	if slept != 700*time.Millisecond {
		t.Errorf("slept %v, want 700ms", slept)
	}
	slept = 0
	m.cfg.Now = func() time.Time { return mt.Add(1500 * time.Millisecond) }
	m.waitNextSecond(db)
	if slept != 0 {
		t.Errorf("slept %v in a later second", slept)
	}
}

func TestRenderParseRoundTrip(t *testing.T) {
	es := []mtablock.Entry{
		{Login: "b@x", Action: mtablock.Hold, Text: "held for review"},
		{Login: "a@x", Action: mtablock.Reject, Text: "no"},
		{Login: "c@x", Action: mtablock.TempFail, Text: "later"},
	}
	b, err := Render(es)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMap(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []mtablock.Entry{es[1], es[0], es[2]}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if _, err := Render([]mtablock.Entry{{Login: "a b", Text: "x"}}); err == nil {
		t.Error("Render accepted a login with a space")
	}
}

func TestCheckConfigRecorded(t *testing.T) {
	load := func(name string) Check {
		f, _ := os.ReadFile("testdata/" + name + ".F")
		p, _ := os.ReadFile("testdata/" + name + ".P")
		mn, _ := os.ReadFile("testdata/" + name + ".main")
		return CheckConfig("hash:/etc/postfix/sg", parsePostconfMap(mn), ParseServices(f), ParseOverrides(p))
	}
	deb := load("debian-submission")
	if deb.Effective() {
		t.Error("Debian default with submission: reported effective")
	}
	got := map[string]ServiceCheck{}
	for _, s := range deb.Services {
		got[s.Service] = s
	}
	if s := got["smtp/inet"]; s.AUTH {
		t.Errorf("smtp/inet offers AUTH: %+v", s)
	}
	sub := got["submission/inet"]
	if !sub.AUTH || sub.Effective {
		t.Fatalf("submission = %+v", sub)
	}
	if want := "-o smtpd_recipient_restrictions=check_sasl_access,hash:/etc/postfix/sg,permit_sasl_authenticated,reject"; sub.FixMaster != want {
		t.Errorf("fix = %q, want %q", sub.FixMaster, want)
	}
	if sub.FixMain != "" {
		t.Errorf("main.cf fix offered although master.cf overrides it: %q", sub.FixMain)
	}
	if !strings.Contains(sub.Problem, "permit_sasl_authenticated comes before") {
		t.Errorf("problem = %q", sub.Problem)
	}
	mua := load("mua")
	if !mua.Effective() {
		t.Errorf("mua sample: not effective: %v", mua.Notes())
	}
	for _, s := range mua.Services {
		if s.AUTH && s.List != "smtpd_relay_restrictions" {
			t.Errorf("%s effective in %q", s.Service, s.List)
		}
	}
}

func TestCheckConfigCases(t *testing.T) {
	ref := "hash:/etc/postfix/sg"
	svc := map[string]string{"smtp/inet": "smtpd", "submission/inet": "smtpd -o x=y", "pickup/unix": "pickup"}
	tests := []struct {
		name      string
		main      map[string]string
		ov        map[string]map[string]string
		effective bool
	}{
		{"global auth, map first in recipient list",
			map[string]string{"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "check_sasl_access hash:/etc/postfix/sg, permit_sasl_authenticated, reject"},
			nil, true},
		{"global auth, map after permit",
			map[string]string{"smtpd_sasl_auth_enable": "yes", "smtpd_relay_restrictions": "permit_sasl_authenticated, check_sasl_access hash:/etc/postfix/sg"},
			nil, false},
		{"other map type",
			map[string]string{"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "check_sasl_access lmdb:/etc/postfix/sg"},
			nil, false},
		{"proxy map",
			map[string]string{"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "check_sasl_access proxy:hash:/etc/postfix/sg"},
			nil, true},
		{"override disables map on submission",
			map[string]string{"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "check_sasl_access hash:/etc/postfix/sg"},
			map[string]map[string]string{"submission/inet": {"smtpd_recipient_restrictions": "permit_sasl_authenticated,reject"}}, false},
		{"no AUTH anywhere", map[string]string{"smtpd_sasl_auth_enable": "no"}, nil, false},
		{"map is argument of another check",
			map[string]string{"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "check_client_access hash:/etc/postfix/sg, permit_sasl_authenticated"},
			nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := CheckConfig(ref, tt.main, svc, tt.ov)
			if c.Effective() != tt.effective {
				t.Errorf("effective = %v, want %v: %v", c.Effective(), tt.effective, c.Notes())
			}
		})
	}
}

func parsePostconfMap(b []byte) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func TestParseStat(t *testing.T) {
	boot := time.Unix(1_700_000_000, 0)
	pi, err := parseStat("4242 (smtpd) S 9914 9914 9914 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n", boot, 100)
	if err != nil {
		t.Fatal(err)
	}
	if pi.pid != 4242 || pi.ppid != 9914 || pi.comm != "smtpd" || !pi.start.Equal(boot.Add(123450*time.Millisecond)) {
		t.Errorf("parsed %+v", pi)
	}
	// A command name with spaces and parentheses.
	pi, err = parseStat("77 (a) b (c)) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0", boot, 100)
	if err != nil || pi.comm != "a) b (c)" || pi.ppid != 1 {
		t.Errorf("tricky comm: %+v %v", pi, err)
	}
	for _, bad := range []string{"", "x", "1 (smtpd S", "1 (smtpd) S 2"} {
		if _, err := parseStat(bad, boot, 100); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestParseHexAddr(t *testing.T) {
	for in, want := range map[string]string{
		"4200007F:B3E8":                         "127.0.0.66",
		"0100007F:0019":                         "127.0.0.1",
		"00000000000000000000000001000000:0019": "::1",
		"0000000000000000FFFF00004200007F:0019": "127.0.0.66",
	} {
		got, ok := parseHexAddr(in)
		if !ok || got != netip.MustParseAddr(want) {
			t.Errorf("parseHexAddr(%s) = %v %v, want %s", in, got, ok, want)
		}
	}
	if _, ok := parseHexAddr("zz:1"); ok {
		t.Error("accepted bad hex")
	}
}

func TestPostmapFailureKeepsOldMap(t *testing.T) {
	m, f := newTestMap(t, "mua")
	ctx := context.Background()
	if _, err := m.Block(ctx, "alice@lab.test", mtablock.Options{}); err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(m.cfg.MapPath)
	db, _ := os.ReadFile(m.cfg.MapPath + ".db")
	f.fail = map[string]bool{"postmap": true}
	res, err := m.Block(ctx, "bob@lab.test", mtablock.Options{})
	if err == nil || res.Written {
		t.Fatalf("block with failing postmap = %+v, %v", res, err)
	}
	src2, _ := os.ReadFile(m.cfg.MapPath)
	db2, _ := os.ReadFile(m.cfg.MapPath + ".db")
	if !bytes.Equal(src, src2) || !bytes.Equal(db, db2) {
		t.Error("failed rebuild changed the installed map")
	}
	left, _ := filepath.Glob(m.cfg.MapPath + ".saslguard-new*")
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// A failed reload is a note: the map is in place and daemons pick it up.
	f.fail = map[string]bool{"postfix": true}
	res, err = m.Block(ctx, "bob@lab.test", mtablock.Options{})
	if err != nil || !res.Written || !strings.Contains(strings.Join(res.Notes, "\n"), "reload failed") {
		t.Errorf("block with failing reload = %+v, %v", res, err)
	}
}

type fakeRegistry struct{ blocked, unblocked []string }

func (r *fakeRegistry) Block(ctx context.Context, login, source, reason string, id int64) (bool, error) {
	r.blocked = append(r.blocked, login+"|"+source+"|"+reason)
	return true, nil
}

func (r *fakeRegistry) Unblock(ctx context.Context, login string) error {
	r.unblocked = append(r.unblocked, login)
	return nil
}

func TestRegistryRecords(t *testing.T) {
	m := effectiveTestMap(t)
	reg := &fakeRegistry{}
	m.cfg.Registry = reg
	ctx := context.Background()
	m.Block(ctx, "alice@lab.test", mtablock.Options{Action: mtablock.Hold, Text: "held"})
	m.Block(ctx, "bad login", mtablock.Options{})
	m.Unblock(ctx, "alice@lab.test")
	m.Unblock(ctx, "nobody@lab.test")
	// Not recorded while the map is not consulted everywhere.
	nm, _ := newTestMap(t, "mua")
	nm.cfg.Registry = reg
	if res, err := nm.Block(ctx, "carol@lab.test", mtablock.Options{}); err != nil || !res.Written || res.Blocked() {
		t.Fatalf("block in a map not consulted: %+v, %v", res, err)
	}
	if d := cmp.Diff([]string{"alice@lab.test|postfix-map|hold: held"}, reg.blocked); d != "" {
		t.Errorf("blocked (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"alice@lab.test"}, reg.unblocked); d != "" {
		t.Errorf("unblocked (-want +got):\n%s", d)
	}
}

func TestParseNetTCP(t *testing.T) {
	// Recorded shape of /proc/net/tcp: a listener on 127.0.0.1:2687, a
	// client connection to it from 127.0.0.66, and smtpd's outgoing
	// connection to a policy service on 127.0.0.1:10040 (not listening here).
	const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0A7F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0A7F 4200007F:B3E8 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:2738 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   3: garbage
`
	peers := map[uint64]tcpConn{}
	parseNetTCP(strings.NewReader(tcp), peers)
	want := map[uint64]tcpConn{1002: {netip.MustParseAddrPort("127.0.0.1:2687"), netip.MustParseAddrPort("127.0.0.66:46056")}}
	if d := cmp.Diff(want, peers, cmp.Comparer(func(a, b tcpConn) bool { return a == b })); d != "" {
		t.Errorf("peers (-want +got):\n%s", d)
	}
}
