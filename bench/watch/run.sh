#!/usr/bin/env bash
# Benchmark: how fast `saslguard watch --mode contain` stops a stolen login
# on a real Postfix 3.7 and Dovecot 2.3 (a private internal/testlab lab on
# loopback). Per run a fresh login relays spam at a steady rate (one SMTP
# session per message, each started on its tick) from several new loopback
# addresses, with forged senders, until Postfix refuses it at RCPT. Prints,
# per run, the spam messages queued (accepted with 250 at DATA) and the
# seconds from the first spam to the block taking effect (map rebuilt,
# postfix reloaded, configuration check passed), then the medians. It does
# so twice: as is, and with forged log lines (as a local user writes them
# with logger(1)) naming another login with 60 made-up queue ids written
# just before each run's first spam.
#
#   bench/watch/run.sh                  # 5 runs at 10 messages/s from 3 addresses, 0 and 60 forged ids
#   RUNS=3 RATE=20 bench/watch/run.sh
#   POLL=1s bench/watch/run.sh          # watch's --poll (default 250ms, as shipped)
#   FORGED="0 20 60" bench/watch/run.sh # made-up queue ids per run, one pass each
#
# Needs root and the servers of .ci/install-servers. Loopback only. Not a
# test: numbers depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-5}
RATE=${RATE:-10}
IPS=${IPS:-3}
POLL=${POLL:-250ms}
FORGED=${FORGED:-0 60}

work=$(mktemp -d /tmp/saslguard-bench-watch.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/saslguard" ./cmd/saslguard
go build -o "$work/driver" ./bench/watch/driver
for n in $FORGED; do
	"$work/driver" -saslguard "$work/saslguard" -runs "$RUNS" -rate "$RATE" -ips "$IPS" -poll "$POLL" -forged "$n"
done
