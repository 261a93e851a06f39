"""inbound: the SMTP client, whether it is a trusted relay, the session's TLS

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peer", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("relay_trusted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("tls", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound", schema=None) as batch_op:
        batch_op.drop_column("tls")
        batch_op.drop_column("relay_trusted")
        batch_op.drop_column("peer")
