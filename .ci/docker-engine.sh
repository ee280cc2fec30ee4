#!/usr/bin/env bash
# A Docker engine with Compose v2 for the compose stack test, on a Debian machine without an init system:
#   - Debian's docker.io (the engine and containerd) and debootstrap (for the stand-in images);
#   - Compose v2: bookworm's docker-compose is v1 and cannot read our file, so the docker-compose .deb of
#     trixie (v2) is downloaded with a separate apt state (the system is not upgraded), unpacked, and its
#     binary put in Docker's CLI plugin folder;
#   - dockerd started in its own process group when no engine answers; its pid goes to $DOCKERD_PIDFILE.
# Idempotent: what is already there is kept. Stops nothing: the engine runs until the machine's session ends.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
state="${DOCKER_SETUP_STATE:-/var/cache/stock-forecast-ci}"
plugin_dir=/usr/libexec/docker/cli-plugins
mkdir -p "$state"

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi

if ! docker compose version 2>/dev/null | grep -q 'version v\?2'; then
  trixie="$state/trixie"
  mkdir -p "$trixie/sources" "$trixie/lists/partial" "$trixie/archives/partial" "$trixie/cache"
  cat >"$trixie/sources/trixie.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  apt_opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$trixie/sources"
            -o Dir::State::Lists="$trixie/lists" -o Dir::Cache="$trixie/cache"
            -o Dir::Cache::Archives="$trixie/archives" -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  (cd "$trixie" && apt-get "${apt_opts[@]}" download docker-compose >/dev/null)
  unpacked="$(mktemp -d)"
  dpkg-deb -x "$trixie"/docker-compose_*.deb "$unpacked"
  mkdir -p "$plugin_dir"
  install -m 0755 "$unpacked/usr/libexec/docker/cli-plugins/docker-compose" "$plugin_dir/docker-compose"
  rm -rf "$unpacked"
fi

if ! docker info >/dev/null 2>&1; then
  log="${DOCKERD_LOG:-$state/dockerd.log}"
  setsid dockerd >"$log" 2>&1 < /dev/null &
  echo $! >"${DOCKERD_PIDFILE:-$state/dockerd.pid}"
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; its log:" >&2; tail -20 "$log" >&2; exit 1; }
fi
# Images left untagged by earlier rebuilds of the API image: on a machine kept between runs they only take disk.
docker image prune -f >/dev/null
echo "docker engine $(docker version -f '{{.Server.Version}}'), $(docker compose version)"
