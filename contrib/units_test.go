// Package contrib holds the systemd units; its test checks them against
// what each saslguard mode needs, since CI runs no systemd.
package contrib

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// unit reads a unit file's [Service] and [Unit] keys (repeated keys append).
func unit(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: bad line %q", name, l)
		}
		keys[k] = append(keys[k], v)
	}
	return keys
}

func fields(vs []string) []string {
	var out []string
	for _, v := range vs {
		out = append(out, strings.Fields(v)...)
	}
	slices.Sort(out)
	return out
}

func TestUnits(t *testing.T) {
	common := map[string]string{
		"ExecReload":             "/bin/kill -HUP $MAINPID",
		"StateDirectory":         "saslguard",
		"ConfigurationDirectory": "saslguard",
		"ProtectSystem":          "strict",
		"NoNewPrivileges":        "yes",
		"ExecStartPre":           "/usr/bin/saslguard config check /etc/saslguard/saslguard.toml",
	}
	for _, tc := range []struct {
		file, mode string
		caps       []string // exactly these capabilities
		rw         []string // exactly these writable paths beyond the state dir
		families   []string
		hostProc   bool // needs other processes' /proc entries
	}{
		{"saslguard-watch.service", "observe", []string{"CAP_DAC_READ_SEARCH"}, nil,
			[]string{"AF_INET", "AF_INET6", "AF_UNIX"}, false},
		// contain: Postfix tools on postfix-owned files (DAC_OVERRIDE,
		// FOWNER, CHOWN, SETUID, SETGID), the map in /etc/postfix, holds in
		// the queue; smtpd sessions found in /proc (SYS_PTRACE), ended with
		// ss -K (NET_ADMIN over netlink) and SIGKILL (KILL)
		{"saslguard-watch-contain.service", "contain", []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_KILL", "CAP_NET_ADMIN", "CAP_SETGID", "CAP_SETUID", "CAP_SYS_PTRACE"},
			[]string{"/etc/postfix", "/var/spool/postfix"},
			[]string{"AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"}, true},
		{"saslguard-policy.service", "", []string{"CAP_CHOWN"}, []string{"-/var/spool/postfix/private"},
			[]string{"AF_INET", "AF_INET6", "AF_UNIX"}, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			u := unit(t, tc.file)
			for k, want := range common {
				if got := strings.Join(u[k], " "); got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			start := strings.Join(u["ExecStart"], " ")
			if !strings.HasPrefix(start, "/usr/bin/saslguard ") || !strings.Contains(start, " --config /etc/saslguard/saslguard.toml") {
				t.Errorf("ExecStart=%s", start)
			}
			if tc.mode != "" {
				if !strings.Contains(start, " --mode "+tc.mode+" ") || !strings.Contains(start, " --state-dir /var/lib/saslguard ") {
					t.Errorf("ExecStart=%s: not --mode %s with the state directory", start, tc.mode)
				}
				if !strings.Contains(start, " --socket /run/saslguard/") || strings.Join(u["RuntimeDirectory"], "") != "saslguard" {
					t.Errorf("the status socket is not in the unit's RuntimeDirectory")
				}
			}
			if got := fields(u["CapabilityBoundingSet"]); !slices.Equal(got, tc.caps) {
				t.Errorf("capabilities %v, want %v", got, tc.caps)
			}
			if got := fields(u["ReadWritePaths"]); !slices.Equal(got, tc.rw) {
				t.Errorf("writable paths %v, want %v", got, tc.rw)
			}
			if got := fields(u["RestrictAddressFamilies"]); !slices.Equal(got, tc.families) {
				t.Errorf("address families %v, want %v", got, tc.families)
			}
			if hidden := strings.Join(u["ProtectProc"], "") == "invisible"; hidden == tc.hostProc {
				t.Errorf("ProtectProc=%v, but needs other processes: %v", u["ProtectProc"], tc.hostProc)
			}
			if u["PrivateNetwork"] != nil && tc.mode == "contain" {
				t.Error("contain mode needs the host's network namespace (/proc/net/tcp, ss -K)")
			}
			analyze, err := exec.LookPath("systemd-analyze")
			if err != nil {
				return
			}
			// "OK" is an exposure below 4.0 (threshold in tenths)
			out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=40", tc.file).CombinedOutput()
			if err != nil {
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				t.Errorf("systemd-analyze security: %v: %s", err, lines[len(lines)-1])
			}
		})
	}
}
