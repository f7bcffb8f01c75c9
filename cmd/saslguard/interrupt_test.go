package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// testBinary builds saslguard once for the tests that run it as a process.
func testBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "saslguard-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "saslguard")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestScanStopsOnSIGINT interrupts a scan of a big xz file and checks that
// it stops promptly, whether it is finding the newest line (which
// decompresses the whole file) or reading.
func TestScanStopsOnSIGINT(t *testing.T) {
	bin := testBinary(t)
	xzPath, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("no xz program")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < 500000; i++ {
		fmt.Fprintf(w, "Mar  %d %02d:%02d:%02d mx1 postfix/submission/smtpd[%d]: %08X: client=unknown[192.0.2.%d], sasl_method=PLAIN, sasl_username=user%d@example.org\n",
			1+i/200000, i/10000%24, i/100%60, i%60, 1000+i%3000, i*7919, i%250, i%997)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(xzPath, "-0", "-T2", logPath).CombinedOutput(); err != nil {
		t.Fatalf("xz: %v %s", err, out)
	}
	for _, after := range []time.Duration{200 * time.Millisecond, 1500 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "scan", "--no-progress", logPath+".xz")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				t.Skipf("the scan ended (%v) before the signal: the machine is too fast for this input", err)
			case <-time.After(after):
			}
			sent := time.Now()
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				took := time.Since(sent)
				t.Logf("stopped %v after SIGINT", took)
				if took > 1500*time.Millisecond {
					t.Errorf("scan took %v to stop after SIGINT", took)
				}
				// before scan installs its handler, SIGINT's default action
				// ends the process; after, scan says it was interrupted
				ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
				killed := ws.Signaled() && ws.Signal() == syscall.SIGINT
				if !killed && (ws.ExitStatus() != 2 || !strings.Contains(stderr.String(), "interrupted")) {
					t.Errorf("exit %v, stderr %q", err, stderr.String())
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("scan still running 30 s after SIGINT")
			}
		})
	}
}
