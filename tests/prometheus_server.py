"""Start Debian's Prometheus with the repository's configuration and rules, pointed at loopback, for tests."""
import subprocess

import requests
import yaml

from tests.server import ROOT, free_port, stop_process_group, wait_for_process

PROMETHEUS = "/usr/bin/prometheus"


def prometheus_config(tmp_path, api_targets, prometheus_port, alertmanager=None, rule_files=None):
    """prometheus/prometheus.yml with 1 s intervals, loopback targets and absolute rule paths.

    api_targets: "127.0.0.1:port" of each API server (Docker's DNS discovery becomes a static list);
    alertmanager: "127.0.0.1:port" or None (no alerting section); rule_files: paths replacing the project's.
    """
    config = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = ([str(path) for path in rule_files] if rule_files is not None
                            else [str(ROOT / "prometheus" / pattern) for pattern in config["rule_files"]])
    targets = {"api": list(api_targets), "prometheus": [f"127.0.0.1:{prometheus_port}"]}
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    if alertmanager is None:
        config.pop("alerting", None)
    else:
        config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [alertmanager]}]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


class PrometheusServer:
    """A Prometheus process and its HTTP API.

    api: the API's port, or a list of "host:port" targets; the other arguments go to prometheus_config.
    """

    def __init__(self, tmp_path, api, alertmanager=None, rule_files=None):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = tmp_path / "prometheus.log"
        api_targets = api if isinstance(api, list) else [f"127.0.0.1:{api}"]
        config = prometheus_config(tmp_path, api_targets, port, alertmanager, rule_files)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def query(self, expr):
        response = requests.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body.get("status") == "success", f"{expr!r}: {body}"
        return body["data"]

    def wait_until(self, condition, what, timeout=30):
        wait_for_process(self.process, self.log_path, condition, f"Prometheus: {what}", timeout)

    def stop(self):
        stop_process_group(self.process)
