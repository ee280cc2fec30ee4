# Stand-in for the public nginx image, from Debian's package. Like that image, at start it renders
# /etc/nginx/templates/*.template into /etc/nginx/conf.d/ with envsubst (only the variables the environment
# defines are replaced, so nginx's own $variables stay), then runs nginx in the foreground. curl is there for
# the compose healthcheck.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends nginx gettext-base curl \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx-entrypoint.sh /docker-entrypoint.sh
EXPOSE 80
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/bin/sh", "/docker-entrypoint.sh"]
CMD ["nginx", "-g", "daemon off;"]
