// Package labmap makes saslguard's check_sasl_access map effective in a
// testlab Postfix, as an admin would before using respond or contain mode:
// from the configuration check's own fixes. Tests of several packages
// share it.
package labmap

import (
	"context"
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/testlab"
)

// MakeEffective builds m's map (empty), applies the fixes the check prints
// for every service that offers AUTH, reloads Postfix and checks again.
func MakeEffective(t testing.TB, ctx context.Context, lab *testlab.Lab, m *postfixblock.Map) {
	t.Helper()
	// The map must exist before main.cf names it, or every AUTH client gets
	// 451 (Postfix: "lookup error"): build it with a placeholder entry.
	if _, err := m.Block(ctx, "placeholder@lab.test", mtablock.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Unblock(ctx, "placeholder@lab.test"); err != nil {
		t.Fatal(err)
	}
	chk, err := m.Check(ctx)
	if err != nil {
		t.Fatal(err)
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
			t.Fatal(err)
		}
	}
	if err := lab.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if chk, err := m.Check(ctx); err != nil || !chk.Effective() {
		t.Fatalf("map not effective after the fixes: %v %v", err, chk.Notes())
	}
}
