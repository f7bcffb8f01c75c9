package logsrc

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestGroups: a set splits into its rotated sets, each in reading order,
// and every file lands in exactly one group.
func TestGroups(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "mx2"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]int{"mail.log": 3, "mail.log.1": 2, "mail.log.2": 1, "dovecot.log": 3, "mx2/mail.log": 3}
	for name, age := range files {
		writeFile(t, dir, name, []byte("Nov 20 10:00:00 mx x: "+name+"\n"), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).Add(-time.Duration(age)*time.Hour))
	}
	set, err := Open([]string{filepath.Join(dir, "mx2/mail.log"), filepath.Join(dir, "*.log*")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	var got [][]string
	for _, g := range set.Groups() {
		var names []string
		for _, f := range g.Files() {
			rel, err := filepath.Rel(dir, f.Name)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, filepath.ToSlash(rel))
		}
		got = append(got, names)
	}
	want := [][]string{{"mail.log.2", "mail.log.1", "mail.log"}, {"dovecot.log"}, {"mx2/mail.log"}}
	slices.SortFunc(got, func(a, b []string) int { return len(b) - len(a) })
	if len(got) != 3 || !slices.Equal(got[0], want[0]) || !slices.ContainsFunc(got, func(g []string) bool { return slices.Equal(g, want[1]) }) ||
		!slices.ContainsFunc(got, func(g []string) bool { return slices.Equal(g, want[2]) }) {
		t.Fatalf("groups %q, want %q", got, want)
	}
}
