#!/usr/bin/env bash
# CI check of the .deb (run as root on a Debian machine): builds it, installs
# it with dpkg -i, checks the installed binary, manual pages, configuration
# and units, scans the bundled example, then purges the package and checks
# that nothing is left. Refuses to run where saslguard is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
if dpkg-query -W -f='${Status}' saslguard 2>/dev/null | grep -q installed || [[ -e /usr/bin/saslguard || -e /etc/saslguard ]]; then
	echo "check-deb: saslguard is already installed here; not touching it" >&2
	exit 1
fi
work="$(mktemp -d)"
installed=""
cleanup() {
	if [[ -n ${installed} ]]; then dpkg -P saslguard >/dev/null 2>&1 || true; fi
	rm -rf "${work}"
}
trap cleanup EXIT

deb="$(VERSION="${VERSION:-0.0.0~ci}" packaging/build-deb.sh "${work}")"
echo "-- built ${deb}"
dpkg -i "${deb}" >/dev/null
installed=1

v="$(saslguard --version)"
echo "-- ${v}"
[[ ${v} == "saslguard ${VERSION:-0.0.0~ci} "* ]] || { echo "unexpected --version: ${v}"; exit 1; }
[[ "$(saslguard version)" == "${v}" ]]
saslguard config check /etc/saslguard/saslguard.toml
[[ -d /var/lib/saslguard ]]
for page in saslguard saslguard-scan saslguard-watch saslguard.toml; do
	f="$(man -w "${page}")"
	out="$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w "${page}" 2>&1 >/dev/null)"
	[[ -z ${out} ]] || { echo "man ${page}: ${out}"; exit 1; }
	echo "-- man ${page}: ${f}"
done
if command -v systemd-analyze >/dev/null; then
	for u in saslguard-watch saslguard-watch-contain saslguard-policy; do
		systemd-analyze verify "/lib/systemd/system/${u}.service"
		systemd-analyze security --offline=true --threshold=40 "/lib/systemd/system/${u}.service" | tail -1
	done
else
	echo "-- no systemd-analyze: units not verified"
fi
set +e
saslguard scan --year 2026 --tz UTC --format json examples/mail.log.gz >"${work}/scan.json"
rc=$?
set -e
[[ ${rc} == 1 ]] || { echo "scan of the example: exit ${rc}, want 1 (compromised logins)"; exit 1; }
grep -q '"compromised"' "${work}/scan.json"
echo "-- scan of the example: exit 1, compromised logins named"

dpkg -P saslguard >/dev/null
installed=""
for p in /usr/bin/saslguard /etc/saslguard /var/lib/saslguard /lib/systemd/system/saslguard-watch.service /usr/share/man/man1/saslguard.1.gz; do
	[[ ! -e ${p} ]] || { echo "left behind after purge: ${p}"; exit 1; }
done
echo "-- purged cleanly"
