"""Start Debian's nginx with the repository's front configuration (Docker/nginx/templates) for tests and benches."""
import re
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

from tests.server import ROOT, free_port, stop_process_group

NGINX = "/usr/sbin/nginx"
TEMPLATE = ROOT / "Docker" / "nginx" / "templates" / "default.conf.template"
_CONTAINER_ACCESS_LOG = "/var/log/nginx/access.log"


def compose_defaults():
    """The values docker-compose.yml gives the template when nothing is set: `${NAME:-default}` -> default.

    The upstream and the port stay out: a test chooses its own.
    """
    compose = yaml.safe_load((ROOT / "Docker" / "docker-compose.yml").read_text())
    environment = compose["services"]["nginx"]["environment"]
    values = {name: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value)) for name, value in environment.items()}
    return {name: value for name, value in values.items() if name not in {"NGINX_API_UPSTREAM", "NGINX_PORT"}}


def render_template(values):
    """The template with ${NAME} replaced as the image's envsubst does; every name must have a value."""
    text = TEMPLATE.read_text()
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(values))
    if missing:
        raise KeyError(f"no value for {missing}")
    return re.sub(r"\$\{(\w+)\}", lambda match: str(values[match.group(1)]), text)


class Nginx:
    """A running nginx: its base URL, its process and its access log."""

    def __init__(self, process, url, access_log, error_log):
        self.process, self.url, self.access_log, self.error_log = process, url, access_log, error_log

    def access_lines(self):
        return Path(self.access_log).read_text(errors="replace").splitlines()


@contextmanager
def nginx_server(workdir, upstreams, **overrides):
    """Run nginx on a free loopback port in front of `upstreams` ("127.0.0.1:port" each) until the block ends.

    `overrides` replace the compose file's defaults (for instance NGINX_PREDICT_RATE).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # Several servers in one upstream, as Docker's DNS gives nginx one address per replica.
    values = dict(compose_defaults(), NGINX_PORT=f"127.0.0.1:{port}",
                  NGINX_API_UPSTREAM=";\n    server ".join(upstreams), **overrides)
    site = render_template(values)
    access_log, error_log = workdir / "access.log", workdir / "error.log"
    assert _CONTAINER_ACCESS_LOG in site
    (workdir / "default.conf").write_text(site.replace(_CONTAINER_ACCESS_LOG, str(access_log)))
    temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    # What the nginx image's own nginx.conf provides around the site file, with every path in workdir.
    (workdir / "nginx.conf").write_text(f"""
user root root;
worker_processes 2;
daemon off;
pid {workdir / 'nginx.pid'};
error_log {error_log} warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {workdir / 'default.conf'};
}}
""")
    check = subprocess.run([NGINX, "-t", "-e", str(error_log), "-c", str(workdir / "nginx.conf")],
                           capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"nginx -t refused the configuration:\n{check.stderr}")
    process = subprocess.Popen([NGINX, "-e", str(error_log), "-c", str(workdir / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    server = Nginx(process, f"http://127.0.0.1:{port}", access_log, error_log)
    try:
        _wait_until_answering(server)
        yield server
    finally:
        stop_process_group(process)


def _wait_until_answering(server, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"nginx exited with {server.process.returncode}:\n"
                               f"{Path(server.error_log).read_text(errors='replace')}")
        try:
            requests.get(server.url + "/health", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not answer within {timeout}s")


def stall_upload(url, path="/predict", declared=1_000_000):
    """Open an upload that declares `declared` bytes, send a few, and stop: the socket stays open."""
    host, port = url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.sendall((f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
                  f"Content-Length: {declared}\r\n\r\n").encode() + b"Date,Open,High,Low,Close,Volume\n")
    return sock
