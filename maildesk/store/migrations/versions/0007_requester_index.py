"""tickets by requester and creation time (the new-ticket cap per sender)

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_tickets_requester_created", "tickets", ["requester", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_requester_created", table_name="tickets")
