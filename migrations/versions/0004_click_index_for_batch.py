"""Indexes for the analytics batch at scale (db/batch.py, bench/batch.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from alembic import op

from db.sqlscript import run_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
-- The batch reads, for each link of a chunk's applications, its human clicks' time, id and
-- session. This partial index holds exactly those (bots are left out), so a chunk reads them
-- with an index-only scan (~80 bytes a click) instead of visiting the wide heap rows (~270
-- bytes: user agent, referrer, metadata) or scanning the whole clicks table.
CREATE INDEX idx_link_clicks_human_by_tracking ON link_clicks (tracking_id)
  INCLUDE (clicked_at, click_id, session_id) WHERE NOT is_bot;
-- After a run, db.follow_ups.after_batch inserts the follow-ups of newly high-priority
-- applications with NOT EXISTS (any follow-up of the application). Only a partial index (open
-- follow-ups) existed, so with statistics from before the run the planner chose a nested loop
-- that scans follow_ups once per application: quadratic, hours at 1M applications. Also the
-- foreign key's index (ON DELETE CASCADE from job_applications).
CREATE INDEX idx_follow_ups_application ON follow_ups (application_id);
"""

DOWNGRADE = """
DROP INDEX IF EXISTS idx_follow_ups_application;
DROP INDEX IF EXISTS idx_link_clicks_human_by_tracking;
"""


def upgrade() -> None:
    run_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    run_script(op.get_bind(), DOWNGRADE)
