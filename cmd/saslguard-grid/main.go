// Command saslguard-grid writes the labelled logs of the detection grid
// (internal/gridgen) and scores `saslguard scan --format json` on them.
//
//	saslguard-grid list tuning|holdout          case ids, one a line
//	saslguard-grid gen -o DIR ID...             DIR/ID.log and DIR/ID.truth.json
//	saslguard-grid score -dir DIR tuning|holdout  tables from DIR/ID.truth.json and DIR/ID.json
//
// bench/detect.sh runs the three in turn.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/saslguard/saslguard/internal/gridgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "saslguard-grid:", err)
		os.Exit(2)
	}
}

const usage = "usage: saslguard-grid list SET | gen -o DIR ID... | score -dir DIR SET (SET: tuning or holdout)"

func sizes(set string) (gridgen.Sizes, error) {
	switch set {
	case "tuning":
		return gridgen.TuningSizes, nil
	case "holdout":
		return gridgen.HoldoutSizes, nil
	}
	return gridgen.Sizes{}, fmt.Errorf("unknown set %q: tuning or holdout", set)
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "list":
		if len(args) != 2 {
			return errors.New(usage)
		}
		sz, err := sizes(args[1])
		if err != nil {
			return err
		}
		for _, c := range gridgen.Grid(args[1], sz) {
			fmt.Fprintln(out, c.ID)
		}
		return nil
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ContinueOnError)
		dir := fs.String("o", ".", "directory for ID.log and ID.truth.json")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		for _, id := range fs.Args() {
			if err := gen(*dir, id); err != nil {
				return err
			}
		}
		return nil
	case "score":
		fs := flag.NewFlagSet("score", flag.ContinueOnError)
		dir := fs.String("dir", ".", "directory with ID.truth.json and ID.json")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New(usage)
		}
		return score(*dir, fs.Arg(0), out)
	}
	return errors.New(usage)
}

func gen(dir, id string) error {
	c, ok := gridgen.Lookup(id)
	if !ok {
		return fmt.Errorf("no case %q in the tuning, holdout or CI set", id)
	}
	f, err := os.Create(filepath.Join(dir, id+".log"))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	truth, err := gridgen.Generate(bw, c)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("case %s: %w", id, err)
	}
	data, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, id+".truth.json"), append(data, '\n'), 0o644)
}

func score(dir, set string, out io.Writer) error {
	sz, err := sizes(set)
	if err != nil {
		return err
	}
	var js []gridgen.Judged
	for _, c := range gridgen.Grid(set, sz) {
		var t gridgen.Truth
		data, err := os.ReadFile(filepath.Join(dir, c.ID+".truth.json"))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &t); err != nil {
			return fmt.Errorf("%s.truth.json: %w", c.ID, err)
		}
		f, err := os.Open(filepath.Join(dir, c.ID+".json"))
		if err != nil {
			return err
		}
		o, err := gridgen.ParseScan(f, t.Login)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s.json: %w", c.ID, err)
		}
		js = append(js, gridgen.Judged{Truth: &t, Outcome: o})
	}
	gridgen.Table(out, fmt.Sprintf("%s set (%d cases)", set, len(js)), js)
	return nil
}
