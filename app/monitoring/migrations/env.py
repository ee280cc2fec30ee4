"""Alembic environment of the forecast registry (docs/migrations.md).

The app runs it through app.monitoring.storage.upgrade_schema, which passes an open connection inside one write
transaction. The `alembic` command (configured in pyproject.toml) opens the registry named by `-x url=...`,
DATABASE_URL or REGISTRY_PATH, e.g. to autogenerate a new revision.
"""
import os

from alembic import context

from app.monitoring.storage import make_engine, metadata, sqlite_url, upgrade_connection


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    path = os.environ.get("REGISTRY_PATH", "").strip()
    if not path:
        raise SystemExit("say which registry: -x url=sqlite:///path, or DATABASE_URL, or REGISTRY_PATH")
    return sqlite_url(path)


def run_migrations() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported: run them against a registry")
    connection = context.config.attributes.get("connection")
    if connection is None:  # the alembic command: same locking as the app
        engine = make_engine(_url())
        try:
            upgrade_connection(engine, _configure_and_run)
        finally:
            engine.dispose()
    else:
        _configure_and_run(connection)


def _configure_and_run(connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table when needed.
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
