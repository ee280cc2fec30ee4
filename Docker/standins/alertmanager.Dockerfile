# Stand-in for prom/alertmanager, from Debian's prometheus-alertmanager package: `alertmanager` and `amtool` on
# the PATH as in the public image, its storage at /alertmanager, running as nobody; wget for the healthcheck.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends prometheus-alertmanager wget \
    && rm -rf /var/lib/apt/lists/* \
    && ln -sf /usr/bin/prometheus-alertmanager /usr/local/bin/alertmanager \
    && mkdir -p /alertmanager && chown nobody:nogroup /alertmanager
USER nobody
EXPOSE 9093
ENTRYPOINT ["/usr/local/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
