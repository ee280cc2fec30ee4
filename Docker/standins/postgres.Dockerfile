# Stand-in for the public postgres image, from Debian's PostgreSQL 15. Like that image, on its first start it makes
# a cluster in $PGDATA with POSTGRES_USER (password POSTGRES_PASSWORD, scram over the network) and POSTGRES_DB,
# then runs the server in the foreground; pg_isready is on the PATH for the compose healthcheck.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH="/usr/lib/postgresql/15/bin:${PATH}" \
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh", "/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
