// Command saslguard-genlog writes a deterministic, labelled Postfix and
// Dovecot log for tests and benchmarks, with a JSON file of its ground truth.
//
//	saslguard-genlog -size 1GiB -seed 1 -o mail.log -truth mail.log.truth.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/loggen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "saslguard-genlog:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("saslguard-genlog", flag.ContinueOnError)
	size := fs.String("size", "16MiB", "target size (bytes, or with KiB/MiB/GiB/KB/MB/GB)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed and flags give the same bytes")
	out := fs.String("o", "", "output log file (required; - for standard output)")
	truthPath := fs.String("truth", "", "ground truth JSON file (default: OUTPUT.truth.json)")
	start := fs.String("start", "2026-03-01", "first day of the log (YYYY-MM-DD, UTC)")
	longIDs := fs.Float64("long-ids", 0, "fraction of messages with long queue ids (0 to 1)")
	format := fs.String("format", "bsd", "time stamp format: bsd or rfc3339")
	verbose := fs.Bool("v", false, "log progress to standard error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("-o FILE is required")
	}
	n, err := parseSize(*size)
	if err != nil {
		return err
	}
	day, err := time.Parse("2006-01-02", *start)
	if err != nil {
		return fmt.Errorf("parse -start: %w", err)
	}
	f, err := loggen.ParseFormat(*format)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg := loggen.Config{Size: n, Seed: *seed, Start: day, LongIDRatio: *longIDs, Format: f, Logger: logger}

	tp := *truthPath
	if tp == "" {
		if *out == "-" {
			return errors.New("-truth FILE is required when writing to standard output")
		}
		tp = *out + ".truth.json"
	}
	w := os.Stdout
	if *out != "-" {
		w, err = os.Create(*out)
		if err != nil {
			return fmt.Errorf("create log: %w", err)
		}
	}
	began := time.Now()
	truth, err := loggen.Generate(w, cfg)
	if err != nil {
		if w != os.Stdout {
			w.Close()
		}
		return err
	}
	if w != os.Stdout {
		if err := w.Close(); err != nil {
			return fmt.Errorf("close log: %w", err)
		}
	}
	elapsed := time.Since(began)
	data, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return fmt.Errorf("encode truth: %w", err)
	}
	if err := os.WriteFile(tp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	logger.Info("done", "bytes", truth.Bytes, "lines", truth.Lines, "seconds", elapsed.Seconds(),
		"mb_per_s", float64(truth.Bytes)/1e6/elapsed.Seconds())
	return nil
}

// parseSize reads "1GiB", "256MiB", "20MB", "5000000".
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSuffix(num, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(v * float64(mult)), nil
}
