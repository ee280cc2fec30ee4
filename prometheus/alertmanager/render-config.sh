#!/bin/sh
# Write Alertmanager's configuration from its template and the environment:
#   render-config.sh TEMPLATE OUTPUT
# Addresses come from ALERT_EMAIL_TO, ALERT_EMAIL_FROM, ALERT_SMTP_SMARTHOST and ALERT_SMTP_USERNAME (may be
# empty: no SMTP login); the secrets stay in files named by ALERT_WEBHOOK_URL_FILE and ALERT_SMTP_PASSWORD_FILE,
# which Alertmanager reads itself; ALERT_TEMPLATES_DIR holds the notification templates.
# POSIX sh and sed only, so it runs in the small Alertmanager image.
set -eu
template=$1
output=$2
: "${ALERT_EMAIL_TO:?set ALERT_EMAIL_TO to the address that receives alert e-mails}"
: "${ALERT_EMAIL_FROM:?set ALERT_EMAIL_FROM to the sender address of alert e-mails}"
: "${ALERT_SMTP_SMARTHOST:?set ALERT_SMTP_SMARTHOST to the SMTP server as host:port}"
: "${ALERT_SMTP_USERNAME:=}"
: "${ALERT_WEBHOOK_URL_FILE:=/run/secrets/alert_webhook_url}"
: "${ALERT_SMTP_PASSWORD_FILE:=/run/secrets/smtp_password}"
: "${ALERT_TEMPLATES_DIR:=/etc/alertmanager/templates}"

script=""
for name in ALERT_EMAIL_TO ALERT_EMAIL_FROM ALERT_SMTP_SMARTHOST ALERT_SMTP_USERNAME ALERT_WEBHOOK_URL_FILE \
            ALERT_SMTP_PASSWORD_FILE ALERT_TEMPLATES_DIR; do
  eval "value=\${$name}"
  # Addresses, host names and paths never need these; refusing them keeps the YAML and the sed script intact.
  case $value in
    *[\"\\\|\&\']* | *"
"*) echo "render-config.sh: $name contains a quote, backslash, |, & or newline: $value" >&2; exit 1 ;;
  esac
  script="${script}s|\${$name}|$value|g;"
done
sed -e "$script" "$template" > "$output"
if grep -n '\${' "$output" >&2; then
  echo "render-config.sh: the lines above still hold a placeholder nobody set" >&2
  exit 1
fi
