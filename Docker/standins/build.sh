#!/usr/bin/env bash
# Make every public image the compose stack needs available to the local Docker engine.
# Each image is pulled; only where the pull fails (no route to the public registries) is a stand-in built from
# Debian bookworm packages and tagged with the public name, so the compose file and the Dockerfile stay unchanged.
#   python:3.11-slim      a debootstrap minbase root with python3, venv and pip (Debian's Python 3.11)
#   prom/prometheus:*     Debian's prometheus           (prometheus.Dockerfile)
#   prom/alertmanager:*   Debian's prometheus-alertmanager (alertmanager.Dockerfile)
#   nginx:*               Debian's nginx, with the public image's template step (nginx.Dockerfile)
#   postgres:*            Debian's PostgreSQL 15, with the public image's first-start setup (postgres.Dockerfile)
# Stand-ins carry the label org.stock-forecast.standin=true. The debootstrap root is cached in
# $STANDIN_CACHE (default ~/.cache/stock-forecast-standins) so a rebuild after `docker system prune` is fast.
# An image with neither a pull nor a stand-in (Grafana: no Debian package) is reported and left out.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
compose_file="$here/../docker-compose.yml"
cache="${STANDIN_CACHE:-$HOME/.cache/stock-forecast-standins}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
standin_label="org.stock-forecast.standin=true"

# The base image, read from the Dockerfile so this script cannot drift from it.
python_image="$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$here/../Dockerfile")"

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

# Every other public image of the compose file, every profile included (images compose builds are skipped).
public_images=$(docker compose -f "$compose_file" --profile '*' config --format json | python3 -c '
import json, sys
services = json.load(sys.stdin)["services"].values()
print("\n".join(sorted({s["image"] for s in services if "build" not in s and "image" in s})))')
for image in $public_images; do
  name="${image%%:*}"; name="${name##*/}"
  if pull_or_report "$image"; then continue; fi
  if [ -f "$here/$name.Dockerfile" ]; then
    build_dockerfile_standin "$image" "$name.Dockerfile"
  else
    echo "unavailable: $image (no pull, no stand-in)"
  fi
done
