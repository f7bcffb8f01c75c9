package quarantine_test

import (
	"context"
	"fmt"
	"log"

	"github.com/saslguard/saslguard/internal/quarantine"
	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
)

// The queue part of `saslguard respond` for a stolen login: hold its mail
// (and the bounces and filter copies correlation linked to it), keep a copy
// of each held message, then delete them from the hold queue.
func Example() {
	ctx := context.Background()
	q, err := postfixq.New(ctx, postfixq.Config{ConfigDir: "/etc/postfix"})
	if err != nil {
		log.Fatal(err)
	}
	links := []queue.Link{{QueueID: "8A1A2B830F", Kind: queue.LinkBounce}}
	rep, err := queue.HoldLogin(ctx, q, "alice@example.org", links)
	if err != nil {
		log.Fatal(err)
	}
	qq, err := quarantine.New(quarantine.Config{Root: "/var/lib/saslguard/quarantine"}, q)
	if err != nil {
		log.Fatal(err)
	}
	var exported []string
	for _, id := range rep.Held {
		if _, _, err := qq.Export(ctx, id, "alice@example.org"); err != nil {
			log.Printf("keeping %s on hold: %v", id, err)
			continue
		}
		exported = append(exported, id)
	}
	res, err := q.DeleteHeld(ctx, exported)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("held %d, deleted %d, released %d reused ids\n", len(rep.Held), res.Changed, len(rep.Released))
}
