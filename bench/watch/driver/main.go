// Command driver measures `saslguard watch --mode contain` on a private lab
// (internal/testlab): per run, a fresh login relays spam at a steady rate
// from several loopback addresses until Postfix refuses it, and the driver
// reports how many spam messages were queued and how many seconds passed
// from the first spam to the block. With -forged N, just before each run's
// first spam it appends lines to the mail log, as a local user can with
// logger(1), that name another login with N made-up queue ids. Used by
// bench/watch/run.sh.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/testlab"
	"github.com/saslguard/saslguard/internal/testlab/labmap"
)

type outcome struct {
	Kind      string    `json:"kind"`
	Login     string    `json:"login"`
	Status    string    `json:"status"`
	Why       string    `json:"why"`
	Held      int       `json:"held"`
	Sessions  int       `json:"sessions_ended"`
	AlertAt   time.Time `json:"alert_at"`
	BlockedAt time.Time `json:"blocked_at"`
}

func main() {
	bin := flag.String("saslguard", "bench/out/saslguard", "saslguard binary")
	runs := flag.Int("runs", 5, "runs (one fresh login each)")
	rate := flag.Float64("rate", 10, "spam messages per second")
	ipsN := flag.Int("ips", 3, "loopback source addresses of the spam")
	poll := flag.Duration("poll", 250*time.Millisecond, "watch --poll")
	maxMsgs := flag.Int("max", 300, "give up a run after this many messages")
	forged := flag.Int("forged", 0, "made-up queue ids in forged log lines written just before each run's spam")
	flag.Parse()
	if err := run(*bin, *runs, *rate, *ipsN, *poll, *maxMsgs, *forged); err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
}

func run(bin string, runs int, rate float64, ipsN int, poll time.Duration, maxMsgs, forged int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	users := map[string]string{}
	for r := range runs {
		users[fmt.Sprintf("spam%d@lab.test", r)] = fmt.Sprintf("pw-%d-stolen", r)
	}
	lab, err := testlab.New(testlab.Options{NoIMAP: true, Users: users}, func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	if err != nil {
		return err
	}
	defer lab.Close()
	if err := effectiveMap(ctx, lab); err != nil {
		return err
	}
	state, err := os.MkdirTemp("", "saslguard-bench-watch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	cmd := exec.CommandContext(ctx, bin, "watch", "--mode", "contain", "--format", "json", "--from-end",
		"--socket", "", "--poll", poll.String(), "--postfix-config", lab.ConfigDir,
		"--state-dir", state, "--contain-max", "1000", lab.LogPath())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	errf, err := os.Create(filepath.Join(state, "watch.err"))
	if err != nil {
		return err
	}
	cmd.Stderr = errf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	outcomes := make(chan outcome, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var o outcome
			if json.Unmarshal(sc.Bytes(), &o) == nil && o.Kind == "containment" {
				outcomes <- o
			}
		}
	}()
	time.Sleep(time.Second) // let watch reach the end of the log

	fmt.Printf("rate %.0f msg/s from %d addresses, watch --poll %s, %d made-up queue ids in forged lines per run\n", rate, ipsN, poll, forged)
	fmt.Printf("%-4s %-7s %-8s %-8s %-5s %s\n", "run", "queued", "refused", "block_s", "held", "status")
	var qs []int
	var ts []float64
	for r := range runs {
		login := fmt.Sprintf("spam%d@lab.test", r)
		if forged > 0 {
			if err := forge(lab.LogPath(), fmt.Sprintf("decoy%d@lab.test", r), r, forged); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond) // watch reads them and hands the decoy's alert on
		}
		q, ref, first, err := spam(ctx, lab, login, users[login], r, rate, ipsN, maxMsgs)
		if err != nil {
			return err
		}
		var o outcome
	wait:
		for {
			select {
			case o = <-outcomes:
				if o.Login == login {
					break wait
				}
				fmt.Printf("     (%s: %s)\n", o.Login, o.Status)
			case <-time.After(30 * time.Second):
				return fmt.Errorf("run %d: no containment outcome (see %s)", r, errf.Name())
			}
		}
		block := -1.0
		if !o.BlockedAt.IsZero() {
			block = o.BlockedAt.Sub(first).Seconds()
		}
		fmt.Printf("%-4d %-7d %-8d %-8.2f %-5d %s %s\n", r+1, q, ref, block, o.Held, o.Status, o.Why)
		qs = append(qs, q)
		ts = append(ts, block)
		time.Sleep(500 * time.Millisecond)
	}
	sort.Ints(qs)
	sort.Float64s(ts)
	fmt.Printf("median: %d spam messages queued, %.2f s from the first spam to the block (max %d, %.2f s)\n",
		qs[len(qs)/2], ts[len(ts)/2], qs[len(qs)-1], ts[len(ts)-1])
	return nil
}

// spam sends messages at a steady rate (each in its own session, started on
// its tick whatever the previous one is doing) until one is refused, and
// returns how many were queued and refused, and when the first started.
func spam(ctx context.Context, lab *testlab.Lab, login, pw string, r int, rate float64, ipsN, maxMsgs int) (queued, refused int, first time.Time, err error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	stop := false
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	first = time.Now()
	for i := 0; i < maxMsgs; i++ {
		if i > 0 {
			<-tick.C
		}
		mu.Lock()
		done := stop
		mu.Unlock()
		if done {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res, err := lab.Send(ctx, testlab.SendOpts{LocalIP: fmt.Sprintf("127.0.%d.%d", 100+r, 10+i%ipsN), Login: login, Password: pw,
				From: fmt.Sprintf("offer%d@shop%d-%d.example", i, r, i), To: []string{fmt.Sprintf("target%d@example.com", i)}, Subject: "deal"})
			mu.Lock()
			defer mu.Unlock()
			var rerr *testlab.ReplyError
			switch {
			case errors.As(err, &rerr):
				refused++
				stop = true
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
				stop = true
			case res.QueueID != "":
				queued++
			}
		}(i)
	}
	wg.Wait()
	return queued, refused, first, firstErr
}

// forge appends forged lines to the log: login "sends" n spam messages from
// four addresses, under made-up queue ids that name no queued message.
func forge(path, login string, r, n int) error {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("E%04X%05X", r, i)
	}
	return testlab.AppendForgedLines(path, login, ids, []string{"127.0.200.10", "127.0.200.11", "127.0.200.12", "127.0.200.13"})
}

// effectiveMap makes the saslguard map exist and be consulted by every
// service that offers AUTH (from the configuration check's own fixes).
func effectiveMap(ctx context.Context, lab *testlab.Lab) error {
	m, err := postfixblock.New(ctx, postfixblock.Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		return err
	}
	if err := labmap.Prepare(ctx, lab, m); err != nil {
		return err
	}
	if chk, err := m.Check(ctx); err != nil || !chk.Effective() {
		return fmt.Errorf("map not effective: %v %v", err, chk.Notes())
	}
	return nil
}
