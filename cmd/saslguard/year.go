package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
)

// yearValue is a --year flag: a calendar year a mail log can carry. A typo
// such as 26 for 2026 is an error at once, not a log read 2000 years off.
type yearValue struct{ p *int }

func yearFlag(fl *pflag.FlagSet, p *int, usage string) {
	fl.Var(yearValue{p}, "year", usage)
}

func (v yearValue) String() string {
	if v.p == nil || *v.p == 0 {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v yearValue) Set(s string) error {
	y, err := strconv.Atoi(s)
	if err == nil && y == 0 {
		*v.p = 0 // the default: from the files
		return nil
	}
	if err != nil || y < 1970 || y > 9999 {
		return fmt.Errorf("want a year from 1970 to 9999, such as 2026")
	}
	*v.p = y
	return nil
}

func (yearValue) Type() string { return "year" }
