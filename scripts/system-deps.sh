#!/bin/sh
# Install the Debian packages the tests and the demo need (root), or say what is missing.
set -eu
# `system-deps.sh bench`: only what `make bench` needs (no browser, no Slurm cluster).
PACKAGES="openssh-server openssh-client iproute2 nftables python3-venv procps tmux"
[ "${1:-all}" = bench ] || PACKAGES="$PACKAGES screen chromium fonts-dejavu-core slurmctld slurmd slurm-client munge slurmdbd mariadb-server-core"
missing=""
for p in $PACKAGES; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs npm"
command -v npm >/dev/null 2>&1 || case "$missing" in *npm*) ;; *) missing="$missing npm" ;; esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "Installing system packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "Missing system packages:$missing" >&2
  echo "Install them with: sudo apt-get install$missing" >&2
  exit 1
fi
