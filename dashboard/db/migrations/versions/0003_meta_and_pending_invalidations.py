"""app_meta (explicit facts such as "demo seeded") and cache invalidations pending for Redis

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import dashboard.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    meta = op.create_table(
        "app_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("updated_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_meta")),
    )
    op.create_table(
        "cache_pending_invalidations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=True),
        sa.Column("created_at", dashboard.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cache_pending_invalidations")),
    )
    # A database seeded before the marker existed holds demo users: it is seeded.
    seeded = op.get_bind().execute(sa.text("SELECT 1 FROM users WHERE is_demo LIMIT 1")).first()
    if seeded is not None:
        op.bulk_insert(
            meta, [{"key": "demo_seed", "value": "seeded before 0003", "updated_at": datetime.now(UTC)}]
        )


def downgrade() -> None:
    op.drop_table("cache_pending_invalidations")
    op.drop_table("app_meta")
