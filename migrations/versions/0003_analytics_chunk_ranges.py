"""Analytics run chunks keep their id range, so a retried run re-plans nothing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

from db.sqlscript import run_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
-- A chunk covers the applications with id_from <= id <= id_to (of the run's account, if any).
ALTER TABLE analytics_run_chunks ADD COLUMN id_from uuid;
ALTER TABLE analytics_run_chunks ADD COLUMN id_to uuid;
ALTER TABLE analytics_run_chunks ADD COLUMN started_at timestamptz;
ALTER TABLE analytics_run_chunks ADD COLUMN attempts integer NOT NULL DEFAULT 0;
-- At most one nightly run queued or in progress at a time (the Redis lock is the fast path).
CREATE UNIQUE INDEX idx_analytics_runs_one_nightly ON analytics_runs((true))
  WHERE kind = 'nightly' AND status IN ('queued', 'in_progress');
"""

DOWNGRADE = """
DROP INDEX IF EXISTS idx_analytics_runs_one_nightly;
ALTER TABLE analytics_run_chunks DROP COLUMN IF EXISTS attempts;
ALTER TABLE analytics_run_chunks DROP COLUMN IF EXISTS started_at;
ALTER TABLE analytics_run_chunks DROP COLUMN IF EXISTS id_to;
ALTER TABLE analytics_run_chunks DROP COLUMN IF EXISTS id_from;
"""


def upgrade() -> None:
    run_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    run_script(op.get_bind(), DOWNGRADE)
