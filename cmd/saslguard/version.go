package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is the release, set by a package build with
// -ldflags "-X main.version=1.2.3". Left empty, it is taken from the module
// version Go recorded in the binary (go install ...@v1.2.3), else "devel".
var version string

// commit is the VCS revision, set with -ldflags "-X main.commit=abc123" when
// the build has no VCS information of its own (a build from a tarball).
var commit string

func init() { register(newVersionCmd) }

// buildVersion describes the running binary.
type buildVersion struct {
	Version  string // release or module version, "devel" when unknown
	Commit   string // VCS revision, "" when unknown
	Modified bool   // the work tree had uncommitted changes
	Time     string // commit time (RFC 3339), "" when unknown
	Go       string // Go version the binary was built with
}

// readVersion combines the values set at link time with what the Go
// toolchain recorded in the binary; the link-time values win.
func readVersion(info *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Version: version, Commit: commit, Go: runtime.Version()}
	if ok && info != nil {
		if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version
		}
		if info.GoVersion != "" {
			v.Go = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true"
			case "vcs.time":
				v.Time = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

// String is the one-line form --version prints.
func (v buildVersion) String() string {
	var b strings.Builder
	b.WriteString(v.Version)
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		fmt.Fprintf(&b, " (commit %s", c)
		if v.Modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " %s %s/%s", v.Go, runtime.GOOS, runtime.GOARCH)
	return b.String()
}

func currentVersion() buildVersion {
	return readVersion(debug.ReadBuildInfo())
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print saslguard's version, commit and Go version",
		Long: `version prints the release (or Go module version), the commit it was built
from ("modified" when the work tree had uncommitted changes), the Go version
and the platform. "saslguard --version" prints the same line.`,
		Example: `  saslguard version
  saslguard --version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "saslguard", currentVersion())
			return err
		},
	}
}

// addVersionFlag gives root a --version flag that prints the same line as
// the version command.
func addVersionFlag(root *cobra.Command) {
	root.Version = currentVersion().String()
	root.SetVersionTemplate("saslguard {{.Version}}\n")
}
