package logsrc

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOpenOrder(t *testing.T) {
	base := time.Date(2026, 11, 20, 6, 25, 0, 0, time.UTC)
	day := func(n int) time.Time { return base.Add(time.Duration(n) * 24 * time.Hour) }
	type file struct {
		name  string
		mtime time.Time
		gzip  bool
	}
	tests := []struct {
		name  string
		files []file
		want  []string
	}{
		{
			name: "numeric rotation beats mtime and sorts 10 after 2",
			files: []file{
				{"mail.log", day(0), false}, // mtimes deliberately wrong
				{"mail.log.1", day(5), false},
				{"mail.log.2", day(1), false},
				{"mail.log.10", day(3), false},
			},
			want: []string{"mail.log.10", "mail.log.2", "mail.log.1", "mail.log"},
		},
		{
			name: "compressed rotation",
			files: []file{
				{"mail.log.3.gz", day(0), true},
				{"mail.log.2.gz", day(1), true},
				{"mail.log.1", day(2), false},
				{"mail.log", day(3), false},
			},
			want: []string{"mail.log.3.gz", "mail.log.2.gz", "mail.log.1", "mail.log"},
		},
		{
			name: "dateext",
			files: []file{
				{"mail.log", day(0), false},
				{"mail.log-20261121", day(0), false},
				{"mail.log-20261120.gz", day(0), true},
				{"mail.log-20261119.gz", day(0), true},
			},
			want: []string{"mail.log-20261119.gz", "mail.log-20261120.gz", "mail.log-20261121", "mail.log"},
		},
		{
			name: "dateext with dashes and hours",
			files: []file{
				{"mail.log-2026-11-21", day(0), false},
				{"mail.log-2026-11-20", day(1), false},
				{"maillog-2026112101", day(0), false},
				{"maillog-2026112023", day(1), false},
			},
			// Within a base the date wins over the (wrong) mtimes; the bases
			// merge on the mtime of their next file, then the name.
			want: []string{"mail.log-2026-11-20", "mail.log-2026-11-21", "maillog-2026112023", "maillog-2026112101"},
		},
		{
			name: "different bases merge by mtime",
			files: []file{
				{"mail.log.1", day(1), false},
				{"mail.log", day(3), false},
				{"mail.err.1", day(0), false},
				{"mail.err", day(2), false},
				{"syslog", day(4), false},
			},
			want: []string{"mail.err.1", "mail.log.1", "mail.err", "mail.log", "syslog"},
		},
		{
			name: "equal mtimes across bases fall back to name",
			files: []file{
				{"b.log", day(1), false},
				{"a.log", day(1), false},
			},
			want: []string{"a.log", "b.log"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var args []string
			for _, f := range tt.files {
				data := []byte(f.name + "\n")
				if f.gzip {
					data = gz(t, data)
				}
				args = append(args, writeFile(t, dir, f.name, data, f.mtime))
			}
			for seed := range uint64(5) {
				shuffled := append([]string(nil), args...)
				rand.New(rand.NewPCG(seed, 1)).Shuffle(len(shuffled), func(i, j int) {
					shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
				})
				s, err := Open(shuffled, Options{})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, f := range s.Files() {
					got = append(got, filepath.Base(f.Name))
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("order of %v (-want +got):\n%s", shuffled, diff)
				}
			}
		})
	}
}

func TestOpenStdinLastAndOnce(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "mail.log", []byte("file\n"), time.Time{})
	s, err := Open([]string{"-", a}, Options{Stdin: strings.NewReader("stdin\n")})
	if err != nil {
		t.Fatal(err)
	}
	files := s.Files()
	if len(files) != 2 || files[0].Name != a || files[1].Name != "-" || files[1].Size != -1 {
		t.Fatalf("files = %+v, want %s then - with size -1", files, a)
	}
	if s.TotalSize() != -1 {
		t.Errorf("TotalSize = %d, want -1 with stdin", s.TotalSize())
	}
	res := readAll(t, s)
	if got := string(res.perFile["-"]); got != "stdin\n" {
		t.Errorf("stdin read %q", got)
	}
	if _, err := Open([]string{"-", "-"}, Options{Stdin: strings.NewReader("")}); err == nil {
		t.Error("Open accepted - twice")
	}
}

func TestOpenDuplicatesReadOnce(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "mail.log", []byte("once\n"), time.Time{})
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	s, err := Open([]string{a, a, filepath.Join(dir, ".", "mail.log"), link, filepath.Join(dir, "*.log")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Files()); n != 1 {
		t.Fatalf("%d files, want 1", n)
	}
	if s.TotalSize() != 5 {
		t.Errorf("TotalSize = %d, want 5", s.TotalSize())
	}
	res := readAll(t, s)
	if got := string(res.perFile[a]); got != "once\n" {
		t.Errorf("read %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "mail.log", []byte("x\n"), time.Time{})
	if err := os.Mkdir(filepath.Join(dir, "sub.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope.log")
	tests := []struct {
		name string
		args []string
		want string // exact error text
	}{
		{"missing file", []string{missing}, "open " + missing + ": no such file or directory"},
		{"glob matching nothing", []string{filepath.Join(dir, "*.gz")}, "pattern " + filepath.Join(dir, "*.gz") + ": no files match"},
		{"bad pattern", []string{filepath.Join(dir, "[")}, "pattern " + filepath.Join(dir, "[") + ": syntax error in pattern"},
		{"directory", []string{filepath.Join(dir, "sub.log")}, "open " + filepath.Join(dir, "sub.log") + ": is a directory"},
		{"empty name", []string{""}, "empty file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.args, Options{})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Open(%q) error = %v, want %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestOpenGlob(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	writeFile(t, dir, "mail.log", []byte("3\n"), base.Add(3*time.Hour))
	writeFile(t, dir, "mail.log.1", []byte("2\n"), base.Add(2*time.Hour))
	writeFile(t, dir, "mail.log.2.gz", gz(t, []byte("1\n")), base.Add(time.Hour))
	writeFile(t, dir, "other.txt", []byte("no\n"), base)
	if err := os.Mkdir(filepath.Join(dir, "mail.log.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A name with glob characters that exists is taken literally.
	lit := writeFile(t, dir, "odd[1].log", []byte("odd\n"), base.Add(4*time.Hour))
	s, err := Open([]string{filepath.Join(dir, "mail.log*"), lit}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := readAll(t, s)
	var got bytes.Buffer
	for _, n := range res.order {
		got.Write(res.perFile[n])
	}
	if got.String() != "1\n2\n3\nodd\n" {
		t.Errorf("read %q, want the rotated set in order then the literal name", got.String())
	}
}

func TestParseRotation(t *testing.T) {
	tests := []struct {
		path string
		want rotation
	}{
		{"/var/log/mail.log", rotation{"/var/log/mail.log", -1, ""}},
		{"/var/log/mail.log.1", rotation{"/var/log/mail.log", 1, ""}},
		{"/var/log/mail.log.12.gz", rotation{"/var/log/mail.log", 12, ""}},
		{"/var/log/mail.log.GZ", rotation{"/var/log/mail.log", -1, ""}},
		{"/var/log/mail.log-20261120.gz", rotation{"/var/log/mail.log", -1, "20261120"}},
		{"/var/log/maillog-20261120.xz", rotation{"/var/log/maillog", -1, "20261120"}},
		{"/var/log/mail.log.20261120", rotation{"/var/log/mail.log", -1, "20261120"}},
		{"/var/log/mail.log-2026-11-20.bz2", rotation{"/var/log/mail.log", -1, "20261120"}},
		{"/var/log/mail.log-20261120123000", rotation{"/var/log/mail.log", -1, "20261120123000"}},
		{"/var/log/mail.log-99999999", rotation{"/var/log/mail.log-99999999", -1, ""}},
		{"mail.log.1234567890123", rotation{"mail.log.1234567890123", -1, ""}},
		{".1", rotation{".1", -1, ""}},
		{"-", rotation{"-", -1, ""}},
	}
	for _, tt := range tests {
		if got := parseRotation(tt.path); got != tt.want {
			t.Errorf("parseRotation(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
}
