package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1GiB", 1 << 30, true},
		{"256MiB", 256 << 20, true},
		{"20MB", 20e6, true},
		{"1.5GB", 1.5e9, true},
		{"5000000", 5e6, true},
		{" 2KiB ", 2048, true},
		{"0", 0, false},
		{"-1MiB", 0, false},
		{"lots", 0, false},
		{"1TiB", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "mail.log")
	if err := run([]string{"-size", "1MB", "-seed", "2", "-o", out, "-format", "rfc3339", "-long-ids", "0.5"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out + ".truth.json")
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Compromised []struct{ Login string } `json:"compromised"`
		Bytes       int64                    `json:"bytes"`
	}
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatal(err)
	}
	if truth.Bytes != st.Size() || len(truth.Compromised) < 4 {
		t.Errorf("truth: %d bytes (file %d), %d compromised", truth.Bytes, st.Size(), len(truth.Compromised))
	}
	for _, args := range [][]string{
		{"-size", "1MB"},                         // no -o
		{"-o", out, "-size", "x"},                // bad size
		{"-o", out, "-format", "json"},           // bad format
		{"-o", out, "-start", "March"},           // bad date
		{"-o", out, "-long-ids", "2"},            // bad ratio
		{"-o", out, "extra"},                     // stray argument
		{"-o", "-", "-size", "1MB"},              // stdout without -truth
		{"-o", filepath.Join(dir, "no", "such")}, // cannot create
	} {
		if err := run(args); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
