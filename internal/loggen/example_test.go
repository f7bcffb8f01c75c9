package loggen_test

import (
	"fmt"
	"io"

	"github.com/saslguard/saslguard/internal/loggen"
)

func ExampleGenerate() {
	truth, err := loggen.Generate(io.Discard, loggen.Config{Size: 8 << 20, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range truth.Compromised {
		fmt.Println(c.Kind, len(c.AttackerIPs) > 0, c.Messages >= 50)
	}
	// Output:
	// phished true true
	// loud-burst true true
	// low-and-slow true true
	// heavy-sender true true
}
