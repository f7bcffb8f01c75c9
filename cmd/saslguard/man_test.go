package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/saslguard/saslguard/internal/manpage"
)

// TestManPagesFollowTheHelp writes the pages as the package build does and
// checks that every command and every flag of the help has its page and
// entry, and that groff renders each page without a warning.
func TestManPagesFollowTheHelp(t *testing.T) {
	dir := t.TempDir()
	root := newRootCmd()
	names, err := writeManPages(root, dir, time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, n := range names {
		written[n] = true
	}
	for _, must := range []string{"saslguard.1", "saslguard-scan.1", "saslguard-explain.1", "saslguard-version.1", "saslguard-config-check.1", "saslguard.toml.5"} {
		if !written[must] {
			t.Errorf("no page %s", must)
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root && !manpage.Documented(c) {
			if written[manpage.PageName(c)+".1"] {
				t.Errorf("hidden command %s has a page", c.CommandPath())
			}
			return
		}
		page := manpage.PageName(c) + ".1"
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("command %q: %v", c.CommandPath(), err)
			return
		}
		text := string(b)
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			entry := `\fB\-\-` + manpage.Escape(f.Name) + `\fR`
			if f.Hidden == strings.Contains(text, entry) {
				t.Errorf("%s: flag --%s (hidden %v) listed: %v", page, f.Name, f.Hidden, !f.Hidden)
			}
		})
		if c.Example != "" && !strings.Contains(text, ".SH EXAMPLES") {
			t.Errorf("%s: no examples", page)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if len(names) != len(written) {
		t.Errorf("a page was written twice: %v", names)
	}

	if b, _ := os.ReadFile(filepath.Join(dir, "saslguard.1")); !strings.Contains(string(b), `\fB\-\-version\fR`) {
		t.Error("saslguard(1) does not list --version")
	}

	toml, _ := os.ReadFile(filepath.Join(dir, "saslguard.toml.5"))
	_, example, _ := runCmd(t, "", "config", "example")
	for _, key := range []string{"own_domains", "baseline_days", "messages_per_minute", "block_action"} {
		if !strings.Contains(example, key) || !strings.Contains(string(toml), manpage.Escape(key)) {
			t.Errorf("saslguard.toml(5) lacks %s", key)
		}
	}

	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skip("no groff to render the pages")
	}
	for _, n := range names {
		out, err := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", filepath.Join(dir, n)).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", n, err, out)
		}
	}
}
