"""Command line for schedulers: `python -m app.monitoring validate --days-back 7 [--api-url URL]`."""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from app.config import settings_from_env
from app.monitoring.validation import MAX_DAYS_BACK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.monitoring", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser(
        "validate", help="validate pending forecasts whose target date has passed",
        description="Compare pending forecasts with realised closes (uploaded CSVs first, then yfinance).")
    validate.add_argument("--days-back", type=int, default=7, metavar="N",
                          help="only forecasts whose target date is within the last N days (default 7)")
    validate.add_argument("--api-url", metavar="URL",
                          help="ask a running API to validate (POST URL/monitoring/validate), so the Prometheus "
                               "counters of its workers update; without it the database is opened directly "
                               "(DATABASE_URL, else REGISTRY_PATH, else instance/forecasts.sqlite3)")
    validate.add_argument("--token", default=os.environ.get("MONITORING_TOKEN", ""),
                          help="bearer token for --api-url (default: $MONITORING_TOKEN)")
    validate.add_argument("--offline", action="store_true",
                          help="direct mode: use uploaded closes only, never yfinance")
    validate.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the API (default 300)")
    report = commands.add_parser("report", help="print a one-line performance summary from the database")
    report.add_argument("--ticker", help="only this ticker")
    return parser


def validate_via_api(api_url: str, days_back: int, token: str, timeout: float) -> str:
    """POST /monitoring/validate on a running API; return its summary line (raises RuntimeError on failure)."""
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
        raise RuntimeError(f"{url} answered {exc.code}: {message or exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"{url} failed: {getattr(exc, 'reason', exc)}") from None


def open_registry():
    """The registry configured by the environment, as the API would open it."""
    from flask import Flask

    from app.monitoring import registry_url
    from app.monitoring.registry import ForecastRegistry

    instance_path = Flask("app").instance_path  # the API's instance folder, without building the app
    return ForecastRegistry(registry_url(settings_from_env(), instance_path))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            if not 1 <= args.days_back <= MAX_DAYS_BACK:
                raise RuntimeError(f"--days-back must be from 1 to {MAX_DAYS_BACK}")
            if args.api_url:
                print(validate_via_api(args.api_url, args.days_back, args.token, args.timeout))
            else:
                from app.monitoring.prices import default_price_source
                from app.monitoring.validation import validate_pending_forecasts

                registry = open_registry()
                source = default_price_source(registry, online=not args.offline)
                print(validate_pending_forecasts(registry, source, days_back=args.days_back).summary())
        else:
            from app.monitoring.performance import error_summary

            registry = open_registry()
            ticker = args.ticker.upper() if args.ticker else None
            counts, m = registry.counts(ticker), error_summary(registry, ticker)
            mape = "n/a" if m["mape"] is None else f"{m['mape']:.3f}%"
            rmae = "n/a" if m["rmae"] is None else f"{m['rmae']:.3f}"
            print(f"validated {counts['validated']}, pending {counts['pending']}, MAPE {mape}, rMAE {rmae}")
    except Exception as exc:  # noqa: BLE001 - one clear line for cron logs, no traceback
        print(f"error: {type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else f"error: {exc}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
