#!/bin/sh
# The public nginx image's template step: /etc/nginx/templates/X.template -> /etc/nginx/conf.d/X.
set -eu
templates=/etc/nginx/templates
if [ -d "$templates" ]; then
  defined=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
  for template in "$templates"/*.template; do
    [ -e "$template" ] || continue
    name=$(basename "$template" .template)
    envsubst "$defined" < "$template" > "/etc/nginx/conf.d/$name"
  done
fi
exec "$@"
