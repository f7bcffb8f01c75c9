package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/gridgen"
)

func TestListAndGen(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"list", "holdout"}, &out); err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(out.String())
	if len(ids) != len(gridgen.Grid("holdout", gridgen.HoldoutSizes)) || ids[0] != "hol-k000" {
		t.Fatalf("list holdout: %d ids, first %q", len(ids), ids[0])
	}
	dir := t.TempDir()
	if err := run([]string{"gen", "-o", dir, "hol-gk006"}, &out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "hol-gk006.truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr gridgen.Truth
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(filepath.Join(dir, "hol-gk006.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Case.Grep || tr.Label != "takeover" || tr.Start.Before(tr.LogStart) || tr.Start.After(tr.LogEnd) {
		t.Errorf("truth: %+v", tr)
	}
	if n := strings.Count(string(log), "sasl_username="+tr.Login+"\n"); n < tr.Accepted {
		t.Errorf("%d sasl_username lines of %s, truth says %d messages", n, tr.Login, tr.Accepted)
	}
	if err := run([]string{"gen", "-o", dir, "hol-k999"}, &out); err == nil {
		t.Error("gen of an unknown case: no error")
	}
	if err := run([]string{"list", "all"}, &out); err == nil {
		t.Error("list of an unknown set: no error")
	}
}

func TestParseScanFindsLogin(t *testing.T) {
	doc := `{"version":1,"accounts":[{"login":"a@x.example","verdict":"ok","score":1,"compromise_start":null},
	{"login":"b@x.example","verdict":"compromised","score":12,"compromise_start":"2026-03-04T02:04:21Z"}]}`
	o, err := gridgen.ParseScan(strings.NewReader(doc), "B@x.example")
	if err != nil {
		t.Fatal(err)
	}
	if o.Verdict != "compromised" || o.Score != 12 || o.Start == nil || !o.Start.Equal(time.Date(2026, 3, 4, 2, 4, 21, 0, time.UTC)) {
		t.Errorf("outcome %+v", o)
	}
	o, err = gridgen.ParseScan(strings.NewReader(doc), "c@x.example")
	if err != nil || o.Verdict != "absent" {
		t.Errorf("missing login: %+v, %v", o, err)
	}
	if _, err := gridgen.ParseScan(strings.NewReader("(no authenticated mail)"), "a"); err == nil {
		t.Error("not JSON: no error")
	}
}
