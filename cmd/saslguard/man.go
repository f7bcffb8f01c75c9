package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/manpage"
	"github.com/saslguard/saslguard/internal/policy"
)

func init() { register(newManCmd) }

// newManCmd is the hidden command a package build runs to write the manual
// pages from the commands' own help, so the pages cannot fall behind it.
func newManCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "man --dir DIR",
		Short:  "Write the manual pages (for package builds)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			names, err := writeManPages(cmd.Root(), dir, manDate())
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(dir, n))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "man", "directory to write the pages to")
	return cmd
}

// manDate is the pages' date: SOURCE_DATE_EPOCH when set (reproducible
// builds), else today.
func manDate() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC()
}

// writeManPages writes saslguard(1), a page per command, and
// saslguard.toml(5) into dir.
func writeManPages(root *cobra.Command, dir string, date time.Time) ([]string, error) {
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag() // cobra adds --version only when it runs
	h := manpage.Header{
		Date:    date.Format("2006-01-02"),
		Source:  "saslguard " + currentVersion().Version,
		Manual:  "saslguard manual",
		SeeAlso: []string{"saslguard.toml(5)", "postconf(5)"},
	}
	names, err := manpage.WriteTree(root, dir, h)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	h.SeeAlso = nil
	err = manpage.Page(&b, "saslguard.toml", "5", "configuration file of saslguard", h, [][2]string{
		{"Synopsis", "/etc/saslguard/saslguard.toml"},
		{"Description", `saslguard reads its configuration from the TOML file named by -c or --config.
The Debian package installs a commented copy of the defaults as
/etc/saslguard/saslguard.toml, which the systemd units pass to watch and
policy serve. Every key is optional; an unknown key or a bad value is an error,
so "saslguard config check FILE" catches a typo before a restart.

The sections: [scan] (own domains, trusted networks, allowlisted logins, time
zone and default logs), [detect] (the detection window and the scores), and
[policy] with [policy.replies] and [policy.rules.NAME] for the Postfix policy
service. "saslguard config example" prints the file below.`},
		{"Defaults", indent(config.Example + "\n" + policy.ExampleConfig)},
		{"Files", "/etc/saslguard/saslguard.toml\n  the configuration\n/var/lib/saslguard\n  state: the incident store, the policy service's snapshot, watch's position"},
		{"See also", "saslguard(1), saslguard-config(1)"},
	})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "saslguard.toml.5"), b.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return append(names, "saslguard.toml.5"), nil
}

// indent makes every line of s preformatted text for manpage.Text.
func indent(s string) string {
	var b bytes.Buffer
	for _, l := range bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n")) {
		b.WriteString("  ")
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.String()
}
