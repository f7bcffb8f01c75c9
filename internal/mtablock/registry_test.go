package mtablock_test

import (
	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/store"
)

// The incident store records blocks.
var _ mtablock.Registry = (*store.Store)(nil)
