package passwdfile

import (
	"strings"
	"testing"
)

// FuzzFindLine: no passwd-file content or login panics, and a found line
// really is the login's (exactly or ignoring case).
func FuzzFindLine(f *testing.F) {
	f.Add(sample, "alice@lab.test")
	f.Add("a:b\n#c:d\n:\n", "")
	f.Fuzz(func(t *testing.T, content, login string) {
		lines := strings.SplitAfter(content, "\n")
		i, err := findLine(lines, login)
		if err != nil {
			return
		}
		user, _, _ := strings.Cut(lines[i], ":")
		if !strings.EqualFold(user, login) {
			t.Fatalf("line %q found for %q", lines[i], login)
		}
	})
}
