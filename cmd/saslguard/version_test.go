package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadVersion(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/saslguard/saslguard", Version: "v0.3.1"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.modified", Value: "true"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		},
	}
	devel := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}
	plat := " " + runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		name            string
		linkVer, linkCm string
		info            *debug.BuildInfo
		ok              bool
		want            string
	}{
		{"module version and vcs", "", "", info, true, "v0.3.1 (commit 0123456789ab, modified) go1.26.0" + plat},
		{"link-time values win", "1.0.0", "feedbeef", info, true, "1.0.0 (commit feedbeef, modified) go1.26.0" + plat},
		{"devel build without vcs", "", "", devel, true, "devel go1.26.0" + plat},
		{"devel build, link-time commit", "", "abc", devel, true, "devel (commit abc) go1.26.0" + plat},
		{"no build info", "2.0", "", nil, false, "2.0 " + runtime.Version() + plat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version, commit = tc.linkVer, tc.linkCm
			defer func() { version, commit = "", "" }()
			if got := readVersion(tc.info, tc.ok).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVersionFlagAndCommandAgree(t *testing.T) {
	code, flagOut, _ := runCmd(t, "", "--version")
	if code != 0 {
		t.Fatalf("--version: exit %d", code)
	}
	code, cmdOut, _ := runCmd(t, "", "version")
	if code != 0 {
		t.Fatalf("version: exit %d", code)
	}
	if flagOut != cmdOut {
		t.Errorf("--version %q != version %q", flagOut, cmdOut)
	}
	want := "saslguard " + currentVersion().String() + "\n"
	if cmdOut != want {
		t.Errorf("version printed %q, want %q", cmdOut, want)
	}
	if !strings.Contains(cmdOut, runtime.Version()) {
		t.Errorf("version lacks the Go version: %q", cmdOut)
	}
}

// TestVersionFromLinker builds the binary as a package build does and checks
// that the version given to the linker is the one printed.
func TestVersionFromLinker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	testBinary(t) // the same skip and build cache
	bin := filepath.Join(t.TempDir(), "saslguard")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X main.version=9.8.7-test -X main.commit=c0ffee", ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "saslguard 9.8.7-test (commit c0ffee") {
		t.Errorf("--version printed %q", out)
	}
}
