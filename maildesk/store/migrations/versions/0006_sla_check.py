"""sla check index

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_sla_check_at"), ["sla_check_at"], unique=False)
        batch_op.create_index(
            "ix_tickets_waiting_ladder", ["status", "reminders_sent", "waiting_since"], unique=False
        )
    # Open tickets are looked at once by the next tick, which sets their real next check.
    op.execute("UPDATE tickets SET sla_check_at = created_at WHERE status <> 'closed'")


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_waiting_ladder")
        batch_op.drop_index(batch_op.f("ix_tickets_sla_check_at"))
        batch_op.drop_column("sla_check_at")
