"""Alert delivery on loopback for tests: Alertmanager with the project's configuration, a chat webhook receiver
and an SMTP server that record what they receive."""
import email
import json
import os
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import yaml

from tests.server import ROOT, free_port, stop_process_group, wait_for_process

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
AMTOOL = "/usr/bin/amtool"
ALERTMANAGER_DIR = ROOT / "prometheus" / "alertmanager"


class Inbox:
    """What the webhook and the SMTP server received, with arrival times."""

    def __init__(self):
        self.items, self.lock = [], threading.Lock()

    def add(self, item):
        with self.lock:
            self.items.append((time.monotonic(), item))

    def wait_for(self, condition, what, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [(at, item) for at, item in self.items if condition(item)]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {timeout}s; received: {[item for _, item in self.items]}")


@contextmanager
def webhook_receiver():
    """A Slack-compatible incoming webhook on loopback: yields (its URL, the Inbox of JSON payloads)."""
    inbox = Inbox()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            inbox.add(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/hook", inbox
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_sink():
    """An SMTP server on loopback (aiosmtpd; no TLS, no login offered): yields ("host:port", the Inbox of
    messages)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            inbox.add(email.message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"127.0.0.1:{controller.port}", inbox
    finally:
        controller.stop()


def render_alertmanager_config(tmp_path, webhook_url, smarthost):
    """prometheus/alertmanager's template rendered by its own script, as the container does at start."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "alert_webhook_url").write_text(webhook_url)
    (secrets / "smtp_password").write_text("not-used-without-smtp-auth")
    env = dict(os.environ, ALERT_EMAIL_TO="oncall@example.org", ALERT_EMAIL_FROM="alertmanager@example.org",
               ALERT_SMTP_SMARTHOST=smarthost, ALERT_SMTP_USERNAME="",
               ALERT_WEBHOOK_URL_FILE=str(secrets / "alert_webhook_url"),
               ALERT_SMTP_PASSWORD_FILE=str(secrets / "smtp_password"),
               ALERT_TEMPLATES_DIR=str(ALERTMANAGER_DIR / "templates"))
    rendered = tmp_path / "alertmanager.yml"
    result = render(env, rendered)
    assert result.returncode == 0, result.stderr
    return rendered


def render(env, output):
    """Run render-config.sh on the committed template."""
    return subprocess.run(["sh", str(ALERTMANAGER_DIR / "render-config.sh"),
                           str(ALERTMANAGER_DIR / "alertmanager.yml.template"), str(output)],
                          env=env, capture_output=True, text=True, timeout=30)


def check_config(path):
    result = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
    return result.stdout


def short_intervals(config_path):
    """Test-only timings (1 s group wait and interval) and plain SMTP to the local sink; checked again."""
    config = yaml.safe_load(config_path.read_text())
    config["global"]["smtp_require_tls"] = False
    for route in [config["route"], *config["route"]["routes"]]:
        route.update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    path = config_path.with_name("alertmanager-test.yml")
    path.write_text(yaml.safe_dump(config))
    check_config(path)
    return path


class Alertmanager:
    def __init__(self, tmp_path, config):
        self.port = free_port()
        self.log_path = tmp_path / "alertmanager.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_process(self.process, self.log_path, lambda: requests.get(
            f"http://127.0.0.1:{self.port}/-/ready", timeout=2).ok, "Alertmanager ready")

    def stop(self):
        stop_process_group(self.process)


def text_of(message):
    """The plain-text part of an e-mail, decoded."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""
