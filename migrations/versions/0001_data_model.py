"""The data model of SPEC §2: accounts, keys, jobs, applications, links, clicks, metrics, views.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

from db.sqlscript import run_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = "('applied', 'interview', 'offer', 'rejected', 'withdrawn')"

UPGRADE = f"""

CREATE TABLE accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  timezone text NOT NULL DEFAULT 'UTC',
  profile_links jsonb NOT NULL DEFAULT '{{}}'::jsonb
    CHECK (jsonb_typeof(profile_links) = 'object'),
  webhook_url text,
  webhook_secret text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name text NOT NULL DEFAULT 'default',
  prefix text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  scopes text[] NOT NULL DEFAULT ARRAY['read']::text[]
    CHECK (scopes <@ ARRAY['read', 'write', 'admin']::text[] AND cardinality(scopes) > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX idx_api_keys_account ON api_keys(account_id);

CREATE TABLE jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  title text NOT NULL,
  company text,
  url text,
  location text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_jobs_account ON jobs(account_id, created_at);

CREATE TABLE job_applications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
  status text NOT NULL DEFAULT 'applied' CHECK (status IN {STATUSES}),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- seed 000 §1.1, refreshed by the analytics batch
  first_click_timestamp timestamptz,
  last_click_timestamp timestamptz,
  total_clicks integer NOT NULL DEFAULT 0,
  unique_click_sessions integer NOT NULL DEFAULT 0,
  most_clicked_link_function varchar(100),
  engagement_score integer NOT NULL DEFAULT 0 CHECK (engagement_score BETWEEN 0 AND 100),
  is_high_priority boolean NOT NULL DEFAULT false
);
CREATE INDEX idx_applications_account_created ON job_applications(account_id, created_at DESC, id);
CREATE INDEX idx_applications_account_status ON job_applications(account_id, status);
CREATE INDEX idx_applications_account_score ON job_applications(account_id, engagement_score DESC, id);
CREATE INDEX idx_applications_account_last_click
  ON job_applications(account_id, last_click_timestamp DESC NULLS LAST, id);
CREATE INDEX idx_applications_high_priority ON job_applications(account_id, engagement_score DESC)
  WHERE is_high_priority;
CREATE INDEX idx_applications_job ON job_applications(job_id);

CREATE TABLE application_status_history (
  id bigserial PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES job_applications(id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN {STATUSES}),
  changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_status_history_application ON application_status_history(application_id, changed_at);

CREATE TABLE link_tracking (
  tracking_id varchar(100) PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
  application_id uuid REFERENCES job_applications(id) ON DELETE CASCADE,
  link_function varchar(50) NOT NULL,
  link_type varchar(50) NOT NULL,
  original_url varchar(1000) NOT NULL,
  redirect_url varchar(1000) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by varchar(100) DEFAULT 'system',
  is_active boolean NOT NULL DEFAULT true,
  description text
);
CREATE INDEX idx_link_tracking_application ON link_tracking(application_id);
CREATE INDEX idx_link_tracking_account_function ON link_tracking(account_id, link_function);
CREATE INDEX idx_link_tracking_job ON link_tracking(job_id);

CREATE TABLE link_clicks (
  click_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tracking_id varchar(100) NOT NULL REFERENCES link_tracking(tracking_id) ON DELETE CASCADE,
  clicked_at timestamptz NOT NULL DEFAULT now(),
  ip_address inet,
  user_agent text,
  referrer_url varchar(1000),
  session_id varchar(100),
  click_source varchar(50),
  metadata jsonb NOT NULL DEFAULT '{{}}'::jsonb,
  is_bot boolean NOT NULL DEFAULT false,
  bot_reason text,
  request_method varchar(10) NOT NULL DEFAULT 'GET',
  CHECK (NOT is_bot OR bot_reason IS NOT NULL)
);
CREATE INDEX idx_link_clicks_tracking ON link_clicks(tracking_id, clicked_at);
CREATE INDEX idx_link_clicks_clicked_at ON link_clicks(clicked_at);

-- seed 001 DDL, with timestamptz (SPEC §2)
CREATE TABLE link_click_analytics (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  application_id uuid REFERENCES job_applications(id) ON DELETE CASCADE,
  job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
  time_to_first_click interval,
  hours_to_first_click numeric(10,2),
  time_between_first_last_click interval,
  hours_between_first_last_click numeric(10,2),
  click_sequence text[],
  unique_functions_clicked integer DEFAULT 0,
  total_click_events integer DEFAULT 0,
  peak_click_hour integer,
  click_days_of_week integer[],
  engagement_velocity numeric(10,4),
  engagement_score integer DEFAULT 0,
  intent_score integer DEFAULT 0,
  calculated_at timestamptz DEFAULT now(),
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  CONSTRAINT valid_peak_hour CHECK (peak_click_hour >= 0 AND peak_click_hour <= 23),
  CONSTRAINT valid_engagement_score CHECK (engagement_score >= 0 AND engagement_score <= 100),
  CONSTRAINT valid_intent_score CHECK (intent_score >= 0 AND intent_score <= 100)
);
CREATE INDEX idx_analytics_job ON link_click_analytics(job_id);
CREATE INDEX idx_analytics_engagement_score ON link_click_analytics(engagement_score DESC);
CREATE INDEX idx_analytics_intent_score ON link_click_analytics(intent_score DESC);
CREATE INDEX idx_analytics_calculated_at ON link_click_analytics(calculated_at);
CREATE UNIQUE INDEX idx_analytics_unique_application ON link_click_analytics(application_id);
COMMENT ON TABLE link_click_analytics IS 'Pre-calculated behavioral metrics for link click analysis';

CREATE TABLE application_contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  application_id uuid NOT NULL REFERENCES job_applications(id) ON DELETE CASCADE,
  email text NOT NULL,
  name text,
  role text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_application_contacts_application ON application_contacts(application_id);

-- seed 004, campaign_contact_id referencing application_contacts
CREATE TABLE engagement_tracking (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  campaign_contact_id uuid NOT NULL REFERENCES application_contacts(id) ON DELETE CASCADE,
  event_type text NOT NULL CHECK (event_type IN
    ('opened', 'clicked', 'bounced', 'delivered', 'unsubscribed', 'spam_reported')),
  event_data jsonb,
  event_timestamp timestamptz NOT NULL DEFAULT now(),
  tracking_id text,
  user_agent text,
  ip_address inet,
  clicked_url text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_engagement_tracking_contact ON engagement_tracking(campaign_contact_id);
CREATE INDEX idx_engagement_tracking_type ON engagement_tracking(event_type);
CREATE INDEX idx_engagement_tracking_timestamp ON engagement_tracking(event_timestamp DESC);
CREATE INDEX idx_engagement_tracking_tracking_id ON engagement_tracking(tracking_id)
  WHERE tracking_id IS NOT NULL;

-- Direct database integration (seed 002) inserts rows without our application code. These
-- triggers keep such rows valid: a link gets its account from its application or job (and may
-- not point into another account), and status changes land in the history. Our own code sets
-- `linkinsights.app_writer` for its transaction: it writes the history itself (it knows the
-- real change time) and has already checked the account of every id it writes.
CREATE FUNCTION link_tracking_fill_account() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  app_account uuid;
  job_account uuid;
BEGIN
  IF NEW.account_id IS NOT NULL
     AND coalesce(current_setting('linkinsights.app_writer', true), '') = 'on' THEN
    RETURN NEW;
  END IF;
  IF NEW.application_id IS NOT NULL THEN
    SELECT account_id INTO app_account FROM job_applications WHERE id = NEW.application_id;
  END IF;
  IF NEW.job_id IS NOT NULL THEN
    SELECT account_id INTO job_account FROM jobs WHERE id = NEW.job_id;
  END IF;
  IF NEW.account_id IS NULL THEN
    NEW.account_id := coalesce(app_account, job_account);
  END IF;
  IF NEW.account_id IS NULL THEN
    RAISE EXCEPTION 'link_tracking %: account_id is required when neither application_id nor job_id names an existing row', NEW.tracking_id
      USING ERRCODE = 'not_null_violation';
  END IF;
  IF (app_account IS NOT NULL AND app_account <> NEW.account_id)
     OR (job_account IS NOT NULL AND job_account <> NEW.account_id) THEN
    RAISE EXCEPTION 'link_tracking %: application/job belong to another account', NEW.tracking_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER trg_link_tracking_fill_account BEFORE INSERT OR UPDATE OF account_id, application_id, job_id
  ON link_tracking FOR EACH ROW EXECUTE FUNCTION link_tracking_fill_account();

CREATE FUNCTION job_applications_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('linkinsights.app_writer', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO application_status_history(application_id, status, changed_at)
    VALUES (NEW.id, NEW.status, NEW.created_at);
  ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO application_status_history(application_id, status, changed_at)
    VALUES (NEW.id, NEW.status, now());
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER trg_job_applications_history_insert AFTER INSERT ON job_applications
  FOR EACH ROW EXECUTE FUNCTION job_applications_history();
CREATE TRIGGER trg_job_applications_history_update AFTER UPDATE OF status ON job_applications
  FOR EACH ROW EXECUTE FUNCTION job_applications_history();

-- "Reached" outcomes (SPEC §2): an application reached interview if its history holds
-- interview or offer, offer if it holds offer. The current status counts too, so a row
-- whose history was never written still tells the truth about where it is now.
CREATE VIEW application_outcomes AS
SELECT
  ja.id AS application_id,
  ja.account_id,
  (ja.status IN ('interview', 'offer') OR EXISTS (
     SELECT 1 FROM application_status_history h
     WHERE h.application_id = ja.id AND h.status IN ('interview', 'offer'))) AS reached_interview,
  (ja.status = 'offer' OR EXISTS (
     SELECT 1 FROM application_status_history h
     WHERE h.application_id = ja.id AND h.status = 'offer')) AS reached_offer,
  (SELECT min(h.changed_at) FROM application_status_history h
   WHERE h.application_id = ja.id AND h.status IN ('interview', 'offer')) AS first_interview_at
FROM job_applications ja;

-- seed 000 §1.2, fixed: human clicks only, functions of clicked links only, reached outcomes.
CREATE VIEW application_engagement_outcomes AS
SELECT
  ja.id AS application_id,
  ja.account_id,
  ja.status,
  ja.created_at AS application_date,
  COUNT(lc.click_id) AS total_clicks,
  COUNT(DISTINCT lc.session_id) AS unique_sessions,
  MIN(lc.clicked_at) AS first_click_timestamp,
  MAX(lc.clicked_at) AS last_click_timestamp,
  EXTRACT(EPOCH FROM (MIN(lc.clicked_at) - ja.created_at)) / 3600 AS hours_to_first_click,
  COALESCE(
    ARRAY_AGG(DISTINCT lt.link_function ORDER BY lt.link_function)
      FILTER (WHERE lc.click_id IS NOT NULL),
    ARRAY[]::varchar[]) AS clicked_functions,
  MODE() WITHIN GROUP (ORDER BY lt.link_function)
    FILTER (WHERE lc.click_id IS NOT NULL) AS most_clicked_function,
  bool_or(o.reached_interview) AS reached_interview,
  bool_or(o.reached_offer) AS reached_offer
FROM job_applications ja
JOIN application_outcomes o ON o.application_id = ja.id
LEFT JOIN link_tracking lt ON ja.id = lt.application_id
LEFT JOIN link_clicks lc ON lt.tracking_id = lc.tracking_id AND NOT lc.is_bot
GROUP BY ja.id, ja.account_id, ja.status, ja.created_at;

-- seed 000 §1.2, fixed: a real division, human clicks, reached outcomes, per account.
CREATE VIEW link_function_effectiveness AS
WITH per_application AS (
  SELECT lt.account_id, lt.link_function, lt.application_id, COUNT(lc.click_id) AS clicks
  FROM link_tracking lt
  LEFT JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id AND NOT lc.is_bot
  WHERE lt.is_active AND lt.application_id IS NOT NULL
  GROUP BY lt.account_id, lt.link_function, lt.application_id
)
SELECT
  p.account_id,
  p.link_function,
  COUNT(*) AS applications_with_link,
  COUNT(*) FILTER (WHERE p.clicks > 0) AS applications_with_clicks,
  COALESCE(SUM(p.clicks), 0)::bigint AS total_clicks,
  ROUND(COALESCE(SUM(p.clicks), 0)::numeric / NULLIF(COUNT(*), 0), 2) AS avg_clicks_per_application,
  COUNT(*) FILTER (WHERE o.reached_interview) AS interviews_generated,
  COUNT(*) FILTER (WHERE o.reached_offer) AS offers_generated,
  ROUND(100.0 * COUNT(*) FILTER (WHERE o.reached_interview) / NULLIF(COUNT(*), 0), 2)
    AS interview_conversion_rate,
  ROUND(100.0 * COUNT(*) FILTER (WHERE o.reached_offer) / NULLIF(COUNT(*), 0), 2)
    AS offer_conversion_rate,
  ROUND(100.0 * COUNT(*) FILTER (WHERE o.reached_interview AND p.clicks > 0)
    / NULLIF(COUNT(*) FILTER (WHERE p.clicks > 0), 0), 2) AS clicked_interview_rate
FROM per_application p
JOIN application_outcomes o ON o.application_id = p.application_id
GROUP BY p.account_id, p.link_function;
"""

DOWNGRADE = """
DROP VIEW IF EXISTS link_function_effectiveness;
DROP VIEW IF EXISTS application_engagement_outcomes;
DROP VIEW IF EXISTS application_outcomes;
DROP TABLE IF EXISTS engagement_tracking;
DROP TABLE IF EXISTS application_contacts;
DROP TABLE IF EXISTS link_click_analytics;
DROP TABLE IF EXISTS link_clicks;
DROP TABLE IF EXISTS link_tracking;
DROP TABLE IF EXISTS application_status_history;
DROP TABLE IF EXISTS job_applications;
DROP TABLE IF EXISTS jobs;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS accounts;
DROP FUNCTION IF EXISTS job_applications_history();
DROP FUNCTION IF EXISTS link_tracking_fill_account();
"""


def upgrade() -> None:
    run_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    run_script(op.get_bind(), DOWNGRADE)
