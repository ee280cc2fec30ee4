#!/usr/bin/env bash
# Make every public image the compose stack needs available to the local Docker engine.
# Each image is pulled; only where the pull fails (no route to the public registries) is a stand-in built from
# Debian bookworm packages and tagged with the public name, so the compose file and the Dockerfile stay unchanged.
#   python:3.11-slim   a debootstrap minbase root with python3, venv and pip (Debian's Python 3.11)
#   prom/prometheus    Debian's prometheus package (standins/prometheus.Dockerfile)
# Stand-ins carry the label org.stock-forecast.standin=true. The debootstrap root is cached in
# $STANDIN_CACHE (default ~/.cache/stock-forecast-standins) so a rebuild after `docker system prune` is fast.
# Grafana has no Debian package: it is neither pulled here nor built; the compose test does not start it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
compose_file="$here/../docker-compose.yml"
cache="${STANDIN_CACHE:-$HOME/.cache/stock-forecast-standins}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
standin_label="org.stock-forecast.standin=true"

# The public image names, read from where they are used, so this script cannot drift from them.
python_image="$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$here/../Dockerfile")"
prometheus_image="$(sed -n 's/^ *image: *\(prom\/prometheus:.*\)$/\1/p' "$compose_file")"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

pull_or_report() {
  if have_image "$1"; then echo "present: $1"; return 0; fi
  if docker pull -q "$1" >/dev/null 2>&1; then echo "pulled: $1"; return 0; fi
  return 1
}

build_python_standin() {
  local root="$cache/bookworm-python-root"
  if [ ! -x "$root/usr/bin/python3" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap is needed to build $python_image" >&2; exit 1; }
    mkdir -p "$cache"; rm -rf "$root"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
      bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { echo "debootstrap failed, see $cache/debootstrap.log" >&2; rm -rf "$root"; exit 1; }
    ln -sf python3 "$root/usr/bin/python"
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  fi
  # The host's CA bundle: where TLS is re-signed on the way out, pip inside image builds must trust that CA.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  tar -C "$root" -c . | docker import --change "LABEL $standin_label" --change 'CMD ["python3"]' \
    --change 'ENV LANG=C.UTF-8' - "$python_image" >/dev/null
  echo "built stand-in: $python_image (Debian bookworm python3)"
}

build_dockerfile_standin() {  # $1 image name, $2 Dockerfile under standins/
  docker build -q --label "$standin_label" -t "$1" -f "$here/$2" "$here" >/dev/null
  echo "built stand-in: $1 ($2)"
}

pull_or_report "$python_image" || build_python_standin
pull_or_report "$prometheus_image" || build_dockerfile_standin "$prometheus_image" prometheus.Dockerfile
