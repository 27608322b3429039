"""Analytics job runs (calculateAnalytics, nightly), follow-ups and webhook deliveries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

from db.sqlscript import run_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- One row per calculateAnalytics call or nightly run; chunks report progress into it.
CREATE TABLE analytics_runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid REFERENCES accounts(id) ON DELETE CASCADE,  -- null: every account (nightly)
  application_id uuid REFERENCES job_applications(id) ON DELETE CASCADE,
  as_of timestamptz,
  kind text NOT NULL DEFAULT 'on_demand' CHECK (kind IN ('on_demand', 'nightly', 'cli')),
  status text NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'in_progress', 'complete', 'failed')),
  enqueued_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  chunks_total integer NOT NULL DEFAULT 0,
  chunks_done integer NOT NULL DEFAULT 0,
  applications_processed integer NOT NULL DEFAULT 0,
  error text
);
CREATE INDEX idx_analytics_runs_account ON analytics_runs(account_id, enqueued_at DESC);

-- Chunks of a run: any worker may take any chunk; a chunk's row makes its completion idempotent.
CREATE TABLE analytics_run_chunks (
  run_id uuid NOT NULL REFERENCES analytics_runs(id) ON DELETE CASCADE,
  chunk_no integer NOT NULL,
  applications integer NOT NULL DEFAULT 0,
  finished_at timestamptz,
  PRIMARY KEY (run_id, chunk_no)
);

-- seed 000 §3.3: a follow-up is due when an application becomes high priority.
CREATE TABLE follow_ups (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  application_id uuid NOT NULL REFERENCES job_applications(id) ON DELETE CASCADE,
  reason text NOT NULL,
  recommended_action text,
  engagement_score integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  due_at timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  completed_at timestamptz
);
CREATE INDEX idx_follow_ups_account ON follow_ups(account_id, completed_at, due_at);
-- At most one open follow-up per application.
CREATE UNIQUE INDEX idx_follow_ups_open_application ON follow_ups(application_id)
  WHERE completed_at IS NULL;

CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  follow_up_id uuid REFERENCES follow_ups(id) ON DELETE CASCADE,
  url text NOT NULL,
  event text NOT NULL,
  attempt integer NOT NULL,
  status_code integer,
  error text,
  succeeded boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_webhook_deliveries_follow_up ON webhook_deliveries(follow_up_id, attempt);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS follow_ups;
DROP TABLE IF EXISTS analytics_run_chunks;
DROP TABLE IF EXISTS analytics_runs;
"""


def upgrade() -> None:
    run_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    run_script(op.get_bind(), DOWNGRADE)
