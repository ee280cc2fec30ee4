"""Baseline: the registry schema of the last release without migrations (tables forecasts and actuals).

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-02

Registries created by that release have the tables but no alembic_version: each table and index is created only
when missing, so upgrading them keeps every row (and adds indexes older registries lacked, as create_schema did).
This file is a frozen copy of that schema: later changes go in new revisions, never here.
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

VALIDATED_ONLY = sa.text("status = 'validated'")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("forecasts"):
        op.create_table(
            "forecasts",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("ticker", sa.String(15), nullable=False),
            sa.Column("made_at", sa.Date(), nullable=False),
            sa.Column("target_date", sa.Date(), nullable=False),
            sa.Column("horizon_step", sa.Integer(), nullable=False),
            sa.Column("predicted", sa.Float(), nullable=False),
            sa.Column("lower_80", sa.Float()),
            sa.Column("upper_80", sa.Float()),
            sa.Column("lower_95", sa.Float()),
            sa.Column("upper_95", sa.Float()),
            sa.Column("last_close", sa.Float()),
            sa.Column("model_version", sa.String(64), nullable=False),
            sa.Column("request_id", sa.String(64)),
            sa.Column("input_hash", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
            sa.Column("actual", sa.Float()),
            sa.Column("actual_date", sa.Date()),
            sa.Column("abs_error", sa.Float()),
            sa.Column("ape", sa.Float()),
            sa.Column("naive_abs_error", sa.Float()),
            sa.Column("naive_ape", sa.Float()),
            sa.Column("validated_at", sa.DateTime(timezone=True)),
            sa.UniqueConstraint("input_hash", "model_version", "ticker", "target_date", name="uq_forecasts_identity"),
        )
    if not inspector.has_table("actuals"):
        op.create_table(
            "actuals",
            sa.Column("ticker", sa.String(15), primary_key=True),
            sa.Column("date", sa.Date(), primary_key=True),
            sa.Column("close", sa.Float(), nullable=False),
        )
    existing = {index["name"] for index in inspector.get_indexes("forecasts")} if inspector.has_table("forecasts") \
        else set()
    indexes = {
        "ix_forecasts_status_target": (["status", "target_date"], {}),
        "ix_forecasts_ticker_status": (["ticker", "status"], {}),
        "ix_forecasts_validated_errors": (
            ["status", "ticker", "horizon_step", "target_date", "abs_error", "ape", "naive_abs_error", "naive_ape",
             "predicted", "actual"],
            {"sqlite_where": VALIDATED_ONLY, "postgresql_where": VALIDATED_ONLY}),
    }
    for name, (columns, where) in indexes.items():
        if name not in existing:
            op.create_index(name, "forecasts", columns, **where)


def downgrade() -> None:
    op.drop_table("actuals")
    op.drop_table("forecasts")
