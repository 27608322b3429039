"""Indexes by client for the click flusher's scanner-burst statement (db/ingest.py).

A batch's burst check needs the recent clicks of the clients who clicked in the batch (one
session, or one address), not every recent click of its applications: without these indexes
the statement read every click of the batch's applications in the lookback and a batch took
longer the more clicks an application had (136 to 415 ms a 1,000-click batch over 25,000
clicks). Each costs one more index entry per stored click.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from alembic import op

from db.sqlscript import run_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE INDEX idx_link_clicks_session ON link_clicks (session_id, clicked_at)
  WHERE session_id IS NOT NULL;
CREATE INDEX idx_link_clicks_ip ON link_clicks (ip_address, clicked_at)
  WHERE ip_address IS NOT NULL;
"""

DOWNGRADE = """
DROP INDEX IF EXISTS idx_link_clicks_ip;
DROP INDEX IF EXISTS idx_link_clicks_session;
"""


def upgrade() -> None:
    run_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    run_script(op.get_bind(), DOWNGRADE)
