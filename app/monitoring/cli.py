"""`flask --app app monitoring validate|report|prune`: validation, a one-line summary and retention, for cron."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request

import click
from flask import g
from flask.cli import AppGroup, ScriptInfo

from app.monitoring.validation import MAX_DAYS_BACK
from app.services import services_of

monitoring_cli = AppGroup("monitoring", help="Validate registered forecasts and report their errors.")


@monitoring_cli.command("validate", with_appcontext=False)
@click.option("--days-back", type=click.IntRange(1, MAX_DAYS_BACK), default=7, show_default=True, metavar="N",
              help="only forecasts whose target date is within the last N days")
@click.option("--api-url", metavar="URL",
              help="ask a running API to validate (POST URL/monitoring/validate), so the Prometheus counters of "
                   "its workers update; without it the database is opened directly (DATABASE_URL, else "
                   "REGISTRY_PATH, else instance/forecasts.sqlite3)")
@click.option("--token", default=lambda: os.environ.get("MONITORING_TOKEN", ""), show_default="$MONITORING_TOKEN",
              help="bearer token for --api-url")
@click.option("--offline", is_flag=True, help="direct mode: use uploaded closes only, never yfinance")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="seconds to wait for the API")
def validate_command(days_back, api_url, token, offline, timeout):
    """Compare pending forecasts whose target date has passed with realised closes."""
    if api_url:
        click.echo(validate_via_api(api_url, days_back, token, timeout))
        return
    # Only direct mode needs the app (and its registry); asking an API must not open a database here.
    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    with app.app_context():
        from app.monitoring.drift import watch
        from app.monitoring.prices import default_price_source
        from app.monitoring.validation import validate_pending_forecasts

        registry = _command_registry()
        source = default_price_source(registry, online=not offline)
        click.echo(validate_pending_forecasts(registry, source, days_back=days_back).summary())
        lineup = services_of().lineup
        drift = watch(registry, None if lineup is None else lineup.drift_reference())
        drifting = [d["ticker"] for d in drift["tickers"] if d["drifting"]]
        click.echo(drift.get("problem") or f"drift: {drift['checked']} tickers checked, {len(drifting)} drifting"
                   + (f" ({', '.join(drifting[:10])})" if drifting else ""))


@monitoring_cli.command("report")
@click.option("--ticker", help="only this ticker")
def report_command(ticker):
    """Print a one-line performance summary from the database."""
    from app.monitoring.performance import error_summary, forecast_counts

    registry = _command_registry()
    ticker = ticker.upper() if ticker else None
    counts, m = forecast_counts(registry, ticker), error_summary(registry, ticker)
    mape = "n/a" if m["mape"] is None else f"{m['mape']:.3f}%"
    rmae = "n/a" if m["rmae"] is None else f"{m['rmae']:.3f}"
    click.echo(f"validated {counts['validated']}, pending {counts['pending']}, MAPE {mape}, rMAE {rmae}")


@monitoring_cli.command("prune")
@click.option("--keep-days", type=click.IntRange(min=1), metavar="N",
              help="keep forecasts whose target date is within the last N days  [default: $RETENTION_DAYS, 400]")
def prune_command(keep_days):
    """Delete old forecasts; their errors stay in the report's daily roll-ups (docs/performance.md)."""
    from flask import current_app

    from app.monitoring.retention import prune

    registry = _command_registry()
    click.echo(prune(registry, keep_days or current_app.config["RETENTION_DAYS"]).summary())


def _command_registry():
    """The app's registry for this command, closed when the command's app context ends."""
    handle = services_of().registry
    registry = handle.get()
    if registry is None:
        raise click.ClickException(handle.problem())
    g.close_registry = True
    return registry


def validate_via_api(api_url: str, days_back: int, token: str, timeout: float) -> str:
    """POST /monitoring/validate on a running API; return its summary line (ClickException on failure)."""
    url = f"{api_url.rstrip('/')}/monitoring/validate?{urllib.parse.urlencode({'days_back': days_back})}"
    req = urllib.request.Request(url, data=b"", method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return json.loads(response.read())["summary"]
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", "")
        except ValueError:
            message = ""
        raise click.ClickException(f"{url} answered {exc.code}: {message or exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise click.ClickException(f"{url} failed: {getattr(exc, 'reason', exc)}") from None
