"""Model versions: each forecast's role (champion, challenger, external) and the history of promotions.

Revision ID: 0003_model_versions
Revises: 0002_interval_hits_and_drift
Create Date: 2026-12-02

Rows registered before this revision were the answers users got, so they become `champion` (the server default);
the covering index of validated forecasts is rebuilt with the columns the per-version comparison reads.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_model_versions"
down_revision = "0002_interval_hits_and_drift"
branch_labels = None
depends_on = None

VALIDATED_ONLY = sa.text("status = 'validated'")
INDEX = "ix_forecasts_validated_errors"
BASE_COLUMNS = ["status", "ticker", "horizon_step", "target_date", "abs_error", "ape", "naive_abs_error",
                "naive_ape", "predicted", "actual", "drift_abs_error", "drift_ape", "inside_80", "inside_95"]
ADDED_COLUMNS = ["role", "model_version", "lower_80", "upper_80"]


def upgrade() -> None:
    with op.batch_alter_table("forecasts") as batch:
        batch.add_column(sa.Column("role", sa.String(10), nullable=False, server_default="champion"))
    op.drop_index(INDEX, table_name="forecasts")
    op.create_index(INDEX, "forecasts", BASE_COLUMNS + ADDED_COLUMNS,
                    sqlite_where=VALIDATED_ONLY, postgresql_where=VALIDATED_ONLY)
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("previous", sa.String(64)),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forced", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reason", sa.String(500)),
    )


def downgrade() -> None:
    op.drop_table("model_promotions")
    op.drop_index(INDEX, table_name="forecasts")
    op.create_index(INDEX, "forecasts", BASE_COLUMNS, sqlite_where=VALIDATED_ONLY, postgresql_where=VALIDATED_ONLY)
    with op.batch_alter_table("forecasts") as batch:
        batch.drop_column("role")
