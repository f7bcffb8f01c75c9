#!/usr/bin/env bash
# Builds saslguard-VERSION-1.ARCH.rpm with rpmbuild from the files of the
# .deb (built first by build-deb.sh), so both packages hold the same binary,
# pages, configuration and units.
#   packaging/build-rpm.sh [OUTDIR]        (default: dist/)
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-dist}")"
mkdir -p "${out}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
deb="$(packaging/build-deb.sh "${work}")"
dpkg-deb -x "${deb}" "${work}/stage"
version="$(dpkg-deb -f "${deb}" Version)"
version="${version//\~/_}" # no tilde in an RPM version for old rpm
version="${version//-/_}"
rpmbuild -bb --quiet \
	--define "_topdir ${work}/rpm" \
	--define "_rpmdir ${out}" \
	--define "_unitdir /usr/lib/systemd/system" \
	--define "stage ${work}/stage" \
	--define "pkgversion ${version}" \
	packaging/saslguard.spec
find "${out}" -name "saslguard-${version}-*.rpm" -newer "${deb}"
