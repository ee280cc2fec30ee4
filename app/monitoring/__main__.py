"""`python -m app.monitoring validate|report ...`: the `flask --app app monitoring` commands, without the flask CLI.

Kept for schedulers and containers set up with the module command. `validate --api-url` only calls the API here:
no app is built and no database is opened (the flask CLI builds the app to find its commands).
"""
import sys

from flask.cli import ScriptInfo

from app import create_app
from app.monitoring.cli import monitoring_cli


def main(argv: list[str] | None = None) -> int:
    """Run one `monitoring` command; return its exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        monitoring_cli.main(args=args, prog_name="python -m app.monitoring", obj=ScriptInfo(create_app=create_app))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
