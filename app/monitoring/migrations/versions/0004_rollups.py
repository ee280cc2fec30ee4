"""Roll-ups: daily_errors, horizon_errors and ticker_counts, filled from the forecasts already registered.

Grouped by role and model_version as well, so the report can show the answers users got or one version's
forecasts. The report no longer scans forecasts, so the two indexes it used go (ix_forecasts_validated_errors made every
validation write a wide index entry); the latest forecasts of one ticker get an index of their own.

Revision ID: 0004_rollups
Revises: 0003_model_versions
Create Date: 2026-12-02

The performance report reads these instead of scanning forecasts. A frozen copy of the tables and of the
aggregates of that day (app/monitoring/measures.py may gain figures later, each in its own revision).
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_rollups"
down_revision = "0003_model_versions"
branch_labels = None
depends_on = None

MEASURES = {  # column: (type, aggregate over validated forecasts)
    "n": (sa.Integer(), "count(*)"),
    "sum_abs": (sa.Float(), "sum(abs_error)"),
    "sum_ape": (sa.Float(), "sum(ape)"),
    "sum_sq": (sa.Float(), "sum(abs_error * abs_error)"),
    "min_ape": (sa.Float(), "min(ape)"),
    "max_ape": (sa.Float(), "max(ape)"),
    "min_abs_error": (sa.Float(), "min(abs_error)"),
    "max_abs_error": (sa.Float(), "max(abs_error)"),
    "sum_predicted": (sa.Float(), "sum(predicted)"),
    "sum_actual": (sa.Float(), "sum(actual)"),
    "naive_n": (sa.Integer(), "count(naive_abs_error)"),
    "naive_sum_abs": (sa.Float(), "sum(naive_abs_error)"),
    "naive_sum_ape": (sa.Float(), "sum(naive_ape)"),
    "naive_sum_sq": (sa.Float(), "sum(naive_abs_error * naive_abs_error)"),
    "naive_min_ape": (sa.Float(), "min(naive_ape)"),
    "naive_max_ape": (sa.Float(), "max(naive_ape)"),
    "sum_abs_with_naive": (sa.Float(), "sum(CASE WHEN naive_abs_error IS NOT NULL THEN abs_error ELSE 0.0 END)"),
    "drift_n": (sa.Integer(), "count(drift_abs_error)"),
    "drift_sum_abs": (sa.Float(), "sum(drift_abs_error)"),
    "drift_sum_ape": (sa.Float(), "sum(drift_ape)"),
    "sum_abs_with_drift": (sa.Float(), "sum(CASE WHEN drift_abs_error IS NOT NULL THEN abs_error ELSE 0.0 END)"),
    "checked_80": (sa.Integer(), "count(inside_80)"),
    "checked_95": (sa.Integer(), "count(inside_95)"),
    "inside_80": (sa.Integer(), "sum(inside_80)"),
    "inside_95": (sa.Integer(), "sum(inside_95)"),
}


def _version() -> list[sa.Column]:
    """The role and model_version key columns (new objects per table: a Column belongs to one table)."""
    return [sa.Column("role", sa.String(10), primary_key=True),
            sa.Column("model_version", sa.String(64), primary_key=True)]


VALIDATED_ONLY = sa.text("status = 'validated'")
# ix_forecasts_validated_errors as revision 0003 left it (downgrade restores it).
INDEX_COLUMNS = ["status", "ticker", "horizon_step", "target_date", "abs_error", "ape", "naive_abs_error",
                 "naive_ape", "predicted", "actual", "drift_abs_error", "drift_ape", "inside_80", "inside_95",
                 "role", "model_version", "lower_80", "upper_80"]
ROLLUPS = ("daily_errors", "horizon_errors")


def _rollup_keys() -> dict[str, list[sa.Column]]:
    return {
        "daily_errors": [sa.Column("target_date", sa.Date(), primary_key=True),
                         sa.Column("ticker", sa.String(15), primary_key=True), *_version()],
        "horizon_errors": [sa.Column("ticker", sa.String(15), primary_key=True),
                           sa.Column("horizon_step", sa.Integer(), primary_key=True), *_version()],
    }


def _stored(sql: str) -> str:
    """A sum over no values is stored as 0 (as the app's merges leave it), minima and maxima as NULL."""
    return f"coalesce({sql}, 0)" if sql.startswith(("sum(", "count(")) else sql


def upgrade() -> None:
    for name, keys in _rollup_keys().items():
        op.create_table(name, *keys, *(sa.Column(column, kind) for column, (kind, _) in MEASURES.items()))
        key_names = ", ".join(key.name for key in keys)
        op.execute(f"INSERT INTO {name} ({key_names}, {', '.join(MEASURES)}) "
                   f"SELECT {key_names}, {', '.join(_stored(sql) for _, sql in MEASURES.values())} "
                   f"FROM forecasts WHERE status = 'validated' GROUP BY {key_names}")
    op.create_table(
        "ticker_counts",
        sa.Column("ticker", sa.String(15), primary_key=True),
        sa.Column("role", sa.String(10), primary_key=True),
        sa.Column("model_version", sa.String(64), primary_key=True),
        sa.Column("pending", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("validated", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_validated_at", sa.DateTime(timezone=True)),
    )
    op.execute("INSERT INTO ticker_counts (ticker, role, model_version, pending, validated, last_validated_at) "
               "SELECT ticker, role, model_version, sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), "
               "sum(CASE WHEN status = 'validated' THEN 1 ELSE 0 END), max(validated_at) "
               "FROM forecasts GROUP BY ticker, role, model_version")
    op.drop_index("ix_forecasts_validated_errors", table_name="forecasts")
    op.drop_index("ix_forecasts_ticker_status", table_name="forecasts")
    op.create_index("ix_forecasts_ticker_id", "forecasts", ["ticker", "id"])


def downgrade() -> None:
    op.drop_index("ix_forecasts_ticker_id", table_name="forecasts")
    op.create_index("ix_forecasts_ticker_status", "forecasts", ["ticker", "status"])
    op.create_index("ix_forecasts_validated_errors", "forecasts", INDEX_COLUMNS,
                    sqlite_where=VALIDATED_ONLY, postgresql_where=VALIDATED_ONLY)
    for name in ("ticker_counts", *ROLLUPS):
        op.drop_table(name)
