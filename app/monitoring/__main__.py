"""`python -m app.monitoring validate ...` is `flask --app app monitoring validate ...`.

Kept so that schedulers and containers set up with the module command keep working.
"""
import sys

from flask.cli import FlaskGroup

from app import create_app


def main(argv: list[str] | None = None) -> int:
    """Run one `monitoring` command; return its exit status."""
    cli = FlaskGroup(create_app=create_app, add_default_commands=False, load_dotenv=False, set_debug_flag=False)
    args = ["monitoring", *(sys.argv[1:] if argv is None else argv)]
    try:
        cli.main(args=args, prog_name="python -m app.monitoring")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
