#!/usr/bin/env bash
# Builds saslguard_VERSION_ARCH.deb with dpkg-deb alone (no debhelper, no
# download): the static binary, man pages and shell completions generated
# from the binary's own help, the default configuration as a conffile, and
# the systemd units.
#   packaging/build-deb.sh [OUTDIR]        (default: dist/)
# VERSION (default: from git describe) sets the package and binary version.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-dist}")"
mkdir -p "${out}"

version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo 0)}"
version="${version#v}"
# a Debian version must start with a digit
[[ ${version} =~ ^[0-9] ]] || version="0~git${version}"
version="${version//-/+}"
commit="$(git rev-parse HEAD 2>/dev/null || true)"
arch="$(dpkg --print-architecture)"
maintainer="${MAINTAINER:-saslguard maintainers <saslguard@saslguard.github.io>}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

stage="$(mktemp -d)"
trap 'rm -rf "${stage}"' EXIT
root="${stage}/root"
install -d "${root}/DEBIAN" "${root}/usr/bin" "${root}/etc/saslguard" \
	"${root}/lib/systemd/system" "${root}/usr/share/man/man1" "${root}/usr/share/man/man5" \
	"${root}/usr/share/doc/saslguard" "${root}/usr/share/bash-completion/completions" \
	"${root}/usr/share/zsh/vendor-completions" "${root}/usr/share/fish/vendor_completions.d"

CGO_ENABLED=0 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=${version} -X main.commit=${commit}" \
	-o "${root}/usr/bin/saslguard" ./cmd/saslguard
bin="${root}/usr/bin/saslguard"

# manual pages and completions, from the commands' help
"${bin}" man --dir "${stage}/man" >/dev/null
for p in "${stage}"/man/*.1; do gzip -9n <"${p}" >"${root}/usr/share/man/man1/$(basename "${p}").gz"; done
gzip -9n <"${stage}/man/saslguard.toml.5" >"${root}/usr/share/man/man5/saslguard.toml.5.gz"
"${bin}" completion bash >"${root}/usr/share/bash-completion/completions/saslguard"
"${bin}" completion zsh >"${root}/usr/share/zsh/vendor-completions/_saslguard"
"${bin}" completion fish >"${root}/usr/share/fish/vendor_completions.d/saslguard.fish"

# the default configuration: the commented defaults, checked by the binary
"${bin}" config example >"${root}/etc/saslguard/saslguard.toml"
"${bin}" config check "${root}/etc/saslguard/saslguard.toml" >/dev/null

install -m 0644 contrib/saslguard-watch.service contrib/saslguard-watch-contain.service \
	contrib/saslguard-policy.service "${root}/lib/systemd/system/"
# a Go binary built with CGO_ENABLED=0 is static on purpose
install -d "${root}/usr/share/lintian/overrides"
echo "saslguard: statically-linked-binary [usr/bin/saslguard]" >"${root}/usr/share/lintian/overrides/saslguard"
install -m 0644 packaging/debian/copyright "${root}/usr/share/doc/saslguard/copyright"
{
	echo "saslguard (${version}) unstable; urgency=medium"
	echo
	echo "  * Package built from commit ${commit:-unknown}."
	echo
	echo " -- ${maintainer}  $(date -u -R -d "@${SOURCE_DATE_EPOCH}")"
} | gzip -9n >"${root}/usr/share/doc/saslguard/changelog.gz"

echo /etc/saslguard/saslguard.toml >"${root}/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "${root}/DEBIAN/"
size="$(du -sk --exclude=DEBIAN "${root}" | cut -f1)"
cat >"${root}/DEBIAN/control" <<CONTROL
Package: saslguard
Version: ${version}
Architecture: ${arch}
Maintainer: ${maintainer}
Installed-Size: ${size}
Recommends: postfix, xz-utils, iproute2
Suggests: dovecot-core, redis-server
Section: mail
Priority: optional
Homepage: https://github.com/saslguard/saslguard
Description: find and contain stolen SMTP AUTH logins
 saslguard reads Postfix and Dovecot logs and names the SMTP AUTH logins
 that spammers are using, with the evidence. It can watch the log and
 alert, contain a login (block it in Postfix, end its sessions, hold its
 mail), and serve as a Postfix policy service that limits each login.
CONTROL
find "${root}" -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +
deb="${out}/saslguard_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "${root}" "${deb}" >/dev/null
echo "${deb}"
