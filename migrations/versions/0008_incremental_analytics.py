"""Incremental analytics: dirty marks kept by the database, HOT-friendly link_click_analytics.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

A nightly run recomputes from their clicks only the applications whose inputs changed and, for
every other one, refreshes in place what moves with the clock alone (``engagement_velocity``
and, across a velocity threshold, ``intent_score``; db/batch.py).

**Dirty marks.** ``analytics_dirty`` is an append-only log of (application, seq,
clicks_until): "this application's metrics may be stale; the newest click concerned is at
``clicks_until``" (null: not a click). The marks are written by triggers, not by the code that
changes the data, because SPEC §2 allows loading rows straight into the seed tables by SQL
("direct database integration"): a trigger sees those writes too, and the flusher, the
reclassification job, the GraphQL mutations and the GDPR delete need no call of their own.

* ``link_clicks``: statement-level AFTER INSERT / UPDATE / DELETE triggers with transition
  tables mark, set-based in one INSERT ... SELECT per statement, the applications of the human
  clicks inserted or deleted, and of the clicks whose verdict, time, link or session changed
  (the flusher's multi-row insert and its scanner-burst UPDATE each cost one extra statement;
  an UPDATE trigger with transition tables cannot name columns, so it compares old and new rows
  by click id). bench/batch.py times the flusher's statement, a 1,000-click multi-row insert
  touching ~1,000 applications, with and without them: at 100k applications 7-15 ms more on
  statements of 30-120 ms (the shared 2-core machine's load moves both), about the cost of
  inserting the ~1,000 mark rows themselves. Explicit calls from the flusher would insert the
  same rows; the triggers also cover the rows our code does not write.
* ``link_tracking``: a link's function or application changed (row-level, rare), links deleted.
* ``job_applications``: inserted (it needs a first row); its status, ``created_at``, job or
  account changed (row-level with a column list: the batch's own updates of the seed 000 §1.1
  columns do not fire it).
* ``accounts``: its timezone changed (local hours and days): every application of the account.
* A GDPR delete removes the application's clicks and links: their triggers mark it; a mark
  whose application is gone is dropped by the next run that reads it.

A run reads the marks of its chunk, recomputes those applications and deletes exactly the marks
it read (by seq), in the chunk's transaction: a mark written concurrently is a new row with a
later seq and stays for the next run. A mark for a click later than the run's ``as_of`` is kept
too (the click is not counted yet). The log is append-only so the flusher never waits on a row
lock of the batch.

**Indexes and fill factor** (the seed 001 DDL changed, as SPEC §2 allows):
``idx_analytics_application`` duplicates ``idx_analytics_unique_application`` (same column;
our 0001 never created it, a database built from the seed DDL has it) and
``idx_analytics_calculated_at`` indexes a column that every write changes. No query of ours
reads either (the API reads rows by ``application_id``; nothing filters or sorts on
``calculated_at``). An update that changes an indexed column, or that finds no free space on
the row's page, cannot be a HOT update: it writes a new entry in every index of the table. With
``calculated_at`` indexed, every rewritten row was a non-HOT update. Without it, the nightly
refresh of ``engagement_velocity`` (not indexed) can be HOT if the page has room for the row's
new version. It nearly always needs it: the velocity, kept to 4 places, moves every day for
every application with clicks younger than a year or two, so a nightly run rewrites most rows
(60% of them in bench/batch.py's data, the rest have no clicks), and the previous night's
versions are pruned only when the page is next visited. The rows are wide (~440 bytes, the
click sequence), so ``fillfactor = 50``: half of each page is kept for the new versions. Measured
on 100k applications (one nightly refresh of 60k rows): with 80, two thirds of the updates were
not HOT; with 50, all were, at the cost of ~1.7x the table's pages. ``intent_score`` and
``engagement_score`` stay indexed as in the seed; an update crossing an intent threshold is not
HOT, those are few. The fill factor applies to pages written from now on;
``VACUUM FULL link_click_analytics`` repacks existing ones.

Every application is marked once here: rows computed before this revision were not tracked.
"""

from alembic import op

from db.sqlscript import run_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = """
DROP INDEX IF EXISTS idx_analytics_application;
DROP INDEX IF EXISTS idx_analytics_calculated_at;
ALTER TABLE link_click_analytics SET (fillfactor = 50);

CREATE TABLE analytics_dirty (
  application_id uuid NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  clicks_until timestamptz,
  PRIMARY KEY (application_id, seq)
);
COMMENT ON TABLE analytics_dirty IS
  'Applications whose link_click_analytics row may be stale (append-only, written by triggers)';

-- A run's kind of work: recompute everything in scope (full), or the dirty applications and a
-- clock refresh of the others (incremental).
ALTER TABLE analytics_runs ADD COLUMN incremental boolean NOT NULL DEFAULT false;

CREATE FUNCTION analytics_dirty_clicks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO analytics_dirty (application_id, clicks_until)
    SELECT lt.application_id, max(n.clicked_at)
    FROM new_clicks n JOIN link_tracking lt ON lt.tracking_id = n.tracking_id
    WHERE NOT n.is_bot AND lt.application_id IS NOT NULL
    GROUP BY lt.application_id;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO analytics_dirty (application_id, clicks_until)
    SELECT lt.application_id, max(o.clicked_at)
    FROM old_clicks o JOIN link_tracking lt ON lt.tracking_id = o.tracking_id
    WHERE NOT o.is_bot AND lt.application_id IS NOT NULL
    GROUP BY lt.application_id;
  ELSE
    INSERT INTO analytics_dirty (application_id, clicks_until)
    SELECT lt.application_id, max(c.clicked_at)
    FROM (
      SELECT o.tracking_id, o.clicked_at
      FROM old_clicks o JOIN new_clicks n ON n.click_id = o.click_id
      WHERE (o.is_bot, o.clicked_at, o.tracking_id, o.session_id)
            IS DISTINCT FROM (n.is_bot, n.clicked_at, n.tracking_id, n.session_id)
        AND NOT (o.is_bot AND n.is_bot)
      UNION ALL
      SELECT n.tracking_id, n.clicked_at
      FROM old_clicks o JOIN new_clicks n ON n.click_id = o.click_id
      WHERE (o.is_bot, o.clicked_at, o.tracking_id, o.session_id)
            IS DISTINCT FROM (n.is_bot, n.clicked_at, n.tracking_id, n.session_id)
        AND NOT (o.is_bot AND n.is_bot)
    ) c JOIN link_tracking lt ON lt.tracking_id = c.tracking_id
    WHERE lt.application_id IS NOT NULL
    GROUP BY lt.application_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER trg_link_clicks_dirty_insert AFTER INSERT ON link_clicks
  REFERENCING NEW TABLE AS new_clicks
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_dirty_clicks();
CREATE TRIGGER trg_link_clicks_dirty_update AFTER UPDATE ON link_clicks
  REFERENCING OLD TABLE AS old_clicks NEW TABLE AS new_clicks
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_dirty_clicks();
CREATE TRIGGER trg_link_clicks_dirty_delete AFTER DELETE ON link_clicks
  REFERENCING OLD TABLE AS old_clicks
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_dirty_clicks();

CREATE FUNCTION analytics_dirty_links_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_dirty (application_id)
  SELECT DISTINCT application_id FROM old_links WHERE application_id IS NOT NULL;
  RETURN NULL;
END $$;
CREATE TRIGGER trg_link_tracking_dirty_delete AFTER DELETE ON link_tracking
  REFERENCING OLD TABLE AS old_links
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_dirty_links_deleted();

CREATE FUNCTION analytics_dirty_link_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_dirty (application_id)
  SELECT DISTINCT a FROM unnest(ARRAY[OLD.application_id, NEW.application_id]) a
  WHERE a IS NOT NULL;
  RETURN NULL;
END $$;
CREATE TRIGGER trg_link_tracking_dirty_update AFTER UPDATE OF link_function, application_id
  ON link_tracking FOR EACH ROW
  WHEN ((OLD.link_function, OLD.application_id) IS DISTINCT FROM
        (NEW.link_function, NEW.application_id))
  EXECUTE FUNCTION analytics_dirty_link_changed();

CREATE FUNCTION analytics_dirty_applications_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_dirty (application_id) SELECT id FROM new_applications;
  RETURN NULL;
END $$;
CREATE TRIGGER trg_job_applications_dirty_insert AFTER INSERT ON job_applications
  REFERENCING NEW TABLE AS new_applications
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_dirty_applications_inserted();

CREATE FUNCTION analytics_dirty_application_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_dirty (application_id) VALUES (NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER trg_job_applications_dirty_update
  AFTER UPDATE OF status, created_at, job_id, account_id ON job_applications FOR EACH ROW
  WHEN ((OLD.status, OLD.created_at, OLD.job_id, OLD.account_id) IS DISTINCT FROM
        (NEW.status, NEW.created_at, NEW.job_id, NEW.account_id))
  EXECUTE FUNCTION analytics_dirty_application_changed();

CREATE FUNCTION analytics_dirty_timezone_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_dirty (application_id)
  SELECT id FROM job_applications WHERE account_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER trg_accounts_dirty_timezone AFTER UPDATE OF timezone ON accounts FOR EACH ROW
  WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
  EXECUTE FUNCTION analytics_dirty_timezone_changed();

INSERT INTO analytics_dirty (application_id) SELECT id FROM job_applications;
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS trg_accounts_dirty_timezone ON accounts;
DROP TRIGGER IF EXISTS trg_job_applications_dirty_update ON job_applications;
DROP TRIGGER IF EXISTS trg_job_applications_dirty_insert ON job_applications;
DROP TRIGGER IF EXISTS trg_link_tracking_dirty_update ON link_tracking;
DROP TRIGGER IF EXISTS trg_link_tracking_dirty_delete ON link_tracking;
DROP TRIGGER IF EXISTS trg_link_clicks_dirty_delete ON link_clicks;
DROP TRIGGER IF EXISTS trg_link_clicks_dirty_update ON link_clicks;
DROP TRIGGER IF EXISTS trg_link_clicks_dirty_insert ON link_clicks;
DROP FUNCTION IF EXISTS analytics_dirty_timezone_changed();
DROP FUNCTION IF EXISTS analytics_dirty_application_changed();
DROP FUNCTION IF EXISTS analytics_dirty_applications_inserted();
DROP FUNCTION IF EXISTS analytics_dirty_link_changed();
DROP FUNCTION IF EXISTS analytics_dirty_links_deleted();
DROP FUNCTION IF EXISTS analytics_dirty_clicks();
ALTER TABLE analytics_runs DROP COLUMN IF EXISTS incremental;
DROP TABLE IF EXISTS analytics_dirty;
ALTER TABLE link_click_analytics RESET (fillfactor);
CREATE INDEX IF NOT EXISTS idx_analytics_calculated_at ON link_click_analytics(calculated_at);
"""


def upgrade() -> None:
    run_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    run_script(op.get_bind(), DOWNGRADE)
