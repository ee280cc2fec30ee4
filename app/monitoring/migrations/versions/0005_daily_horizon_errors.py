"""Roll-up daily_horizon_errors: the measures per target date, ticker, horizon step and version.

The report's errors per horizon step over a period read it instead of scanning the period's forecasts. Filled
from the validated forecasts still registered: days that retention pruned before this revision have no
per-horizon figures (their other figures stay in daily_errors).

Revision ID: 0005_daily_horizon_errors
Revises: 0004_rollups
Create Date: 2026-12-03

A frozen copy of the table and of the aggregates of that day (as in 0004; app/monitoring/measures.py may gain
figures later, each in its own revision).
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_daily_horizon_errors"
down_revision = "0004_rollups"
branch_labels = None
depends_on = None

TABLE = "daily_horizon_errors"
KEYS = ("target_date", "ticker", "horizon_step", "role", "model_version")
MEASURES = {  # column: (type, aggregate over validated forecasts), as 0004 rolled them up
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


def _stored(sql: str) -> str:
    """A sum over no values is stored as 0 (as the app's merges leave it), minima and maxima as NULL."""
    return f"coalesce({sql}, 0)" if sql.startswith(("sum(", "count(")) else sql


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("target_date", sa.Date(), primary_key=True),
        sa.Column("ticker", sa.String(15), primary_key=True),
        sa.Column("horizon_step", sa.Integer(), primary_key=True),
        sa.Column("role", sa.String(10), primary_key=True),
        sa.Column("model_version", sa.String(64), primary_key=True),
        *(sa.Column(column, kind) for column, (kind, _) in MEASURES.items()),
        sqlite_with_rowid=False,
    )
    keys = ", ".join(KEYS)
    op.execute(f"INSERT INTO {TABLE} ({keys}, {', '.join(MEASURES)}) "
               f"SELECT {keys}, {', '.join(_stored(sql) for _, sql in MEASURES.values())} "
               f"FROM forecasts WHERE status = 'validated' GROUP BY {keys}")


def downgrade() -> None:
    op.drop_table(TABLE)
