"""forecasts: the drift baseline, its errors, and whether the realised close fell inside the 80% and 95% bounds.

Revision ID: 0002_interval_hits_and_drift
Revises: 0001_baseline
Create Date: 2026-12-02

Validation fills them; rows validated before this revision keep them NULL and count as not checked. The covering
index of validated forecasts is rebuilt with the new error columns, so the report still reads it alone.
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_interval_hits_and_drift"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

VALIDATED_ONLY = sa.text("status = 'validated'")
NEW_COLUMNS = (("drift", sa.Float()), ("drift_abs_error", sa.Float()), ("drift_ape", sa.Float()),
               ("inside_80", sa.Integer()), ("inside_95", sa.Integer()))
INDEX = "ix_forecasts_validated_errors"
INDEX_COLUMNS = ["status", "ticker", "horizon_step", "target_date", "abs_error", "ape", "naive_abs_error",
                 "naive_ape", "predicted", "actual"]


def upgrade() -> None:
    for name, kind in NEW_COLUMNS:
        op.add_column("forecasts", sa.Column(name, kind, nullable=True))
    op.drop_index(INDEX, table_name="forecasts")
    op.create_index(INDEX, "forecasts", [*INDEX_COLUMNS, "drift_abs_error", "drift_ape", "inside_80", "inside_95"],
                    sqlite_where=VALIDATED_ONLY, postgresql_where=VALIDATED_ONLY)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="forecasts")
    with op.batch_alter_table("forecasts") as batch:
        for name, _ in NEW_COLUMNS:
            batch.drop_column(name)
    op.create_index(INDEX, "forecasts", INDEX_COLUMNS, sqlite_where=VALIDATED_ONLY, postgresql_where=VALIDATED_ONLY)
