"""outbox rows by status and due time (the sender's claim reads them in order)

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_status_due", "outbox", ["status", "next_attempt_at", "id"], unique=False
    )
    op.drop_index("ix_outbox_status", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_status", "outbox", ["status"], unique=False)
    op.drop_index("ix_outbox_status_due", table_name="outbox")
