// Package labmap makes saslguard's check_sasl_access map effective in a
// testlab Postfix, as an admin would before using respond or contain mode:
// from the configuration check's own fixes. Tests of several packages and
// the watch benchmark's driver share it.
package labmap

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/testlab"
)

// MakeEffective builds m's map, applies the fixes and checks that the map is
// consulted by every service that offers AUTH; it fails t otherwise.
func MakeEffective(t testing.TB, ctx context.Context, lab *testlab.Lab, m *postfixblock.Map) {
	t.Helper()
	if err := Prepare(ctx, lab, m); err != nil {
		t.Fatal(err)
	}
	if chk, err := m.Check(ctx); err != nil || !chk.Effective() {
		t.Fatalf("map not effective after the fixes: %v %v", err, chk.Notes())
	}
}

// Prepare builds m's map (empty), then applies the fixes. The map must exist
// before main.cf names it, or every AUTH client gets 451 (Postfix: "lookup
// error"): it is built with a placeholder entry, taken out again.
func Prepare(ctx context.Context, lab *testlab.Lab, m *postfixblock.Map) error {
	if _, err := m.Block(ctx, "placeholder@lab.test", mtablock.Options{}); err != nil {
		return err
	}
	if _, err := m.Unblock(ctx, "placeholder@lab.test"); err != nil {
		return err
	}
	return ApplyFixes(ctx, lab, m)
}

// ApplyFixes applies the check's fix (postconf -e, or postconf -P for a
// master.cf override) for every service that offers AUTH and does not
// consult the map, then reloads Postfix.
func ApplyFixes(ctx context.Context, lab *testlab.Lab, m *postfixblock.Map) error {
	chk, err := m.Check(ctx)
	if err != nil {
		return err
	}
	for _, sc := range chk.Services {
		if !sc.AUTH || sc.Effective {
			continue
		}
		if sc.FixMain != "" {
			_, err = lab.Run(ctx, "postconf", "-e", sc.FixMain)
		} else {
			_, err = lab.Run(ctx, "postconf", "-P", sc.Service+"/"+strings.TrimPrefix(sc.FixMaster, "-o "))
		}
		if err != nil {
			return fmt.Errorf("fix %s: %w", sc.Service, err)
		}
	}
	return lab.Reload(ctx)
}
