"""The seed 000 views become the one definition of the figures the API serves (issue 16).

- `application_outcomes` keeps its columns but reads each application's history with one
  lateral probe of idx_status_history_application (its two EXISTS under an OR could be planned
  as a hashed scan of the whole history table, for every query that reads through it), and
  gains `reached_response` (an interview, offer or rejection: the employer answered) and
  `first_response_at`, for the application analytics' funnel (seed 003).
- `application_link_functions` (new): one row per application and link function with an
  active link: the application's date and status (the API's filters), its human clicks on that
  link and when the first came, and the reached outcomes.
- `link_function_effectiveness` aggregates `application_link_functions` (its columns as
  before, the same figures) and gains the counts the API needs: applications whose clicked link
  led to an interview or an offer, and the median hours to the first click.

The API reads the engagement summary's per-application figures from
`application_engagement_outcomes` and the link-function figures from
`application_link_functions` with the request's filters, aggregated as
`link_function_effectiveness` aggregates them (tests/test_views_and_api.py compares the two).

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-04
"""

from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

_OUTCOMES_LATERAL = """
CREATE OR REPLACE VIEW application_outcomes AS
SELECT
  ja.id AS application_id,
  ja.account_id,
  (ja.status IN ('interview', 'offer') OR coalesce(h.interview, false)) AS reached_interview,
  (ja.status = 'offer' OR coalesce(h.offer, false)) AS reached_offer,
  h.first_interview_at,
  (ja.status IN ('interview', 'offer', 'rejected') OR coalesce(h.response, false))
    AS reached_response,
  h.first_response_at
FROM job_applications ja
LEFT JOIN LATERAL (
  SELECT bool_or(hs.status IN ('interview', 'offer')) AS interview,
         bool_or(hs.status = 'offer') AS offer,
         bool_or(hs.status IN ('interview', 'offer', 'rejected')) AS response,
         min(hs.changed_at) FILTER (WHERE hs.status IN ('interview', 'offer'))
           AS first_interview_at,
         min(hs.changed_at) FILTER (WHERE hs.status IN ('interview', 'offer', 'rejected'))
           AS first_response_at
  FROM application_status_history hs
  WHERE hs.application_id = ja.id
) h ON true
"""

_OUTCOMES_EXISTS = """
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
FROM job_applications ja
"""

# Migration 0001's application_engagement_outcomes, recreated on the way down (it depends on
# application_outcomes, which loses columns there).
_ENGAGEMENT_OUTCOMES_0001 = """
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
GROUP BY ja.id, ja.account_id, ja.status, ja.created_at
"""


# From the application (its account, date and status: the filters), so that a filter on the
# account reads the account's applications first and probes each one's history once; starting
# from the links, the history was probed once per link and the statement took twice as long.
# (A link's account is its application's: migration 0001's trigger sees to it.)
_APPLICATION_LINK_FUNCTIONS = """
CREATE VIEW application_link_functions AS
SELECT
  ja.account_id,
  lt.link_function,
  ja.id AS application_id,
  ja.created_at AS application_date,
  ja.status,
  COUNT(lc.click_id) AS clicks,
  MIN(lc.clicked_at) AS first_click_timestamp,
  (EXTRACT(EPOCH FROM (MIN(lc.clicked_at) - ja.created_at)) / 3600)::float8
    AS hours_to_first_click,
  o.reached_interview,
  o.reached_offer
FROM job_applications ja
JOIN application_outcomes o ON o.application_id = ja.id
JOIN link_tracking lt ON lt.application_id = ja.id AND lt.is_active
LEFT JOIN link_clicks lc ON lc.tracking_id = lt.tracking_id AND NOT lc.is_bot
GROUP BY ja.account_id, lt.link_function, ja.id, ja.created_at, ja.status,
         o.reached_interview, o.reached_offer
"""

# The columns of migration 0001, in its order, then the new ones (CREATE OR REPLACE VIEW may
# only add columns at the end).
_EFFECTIVENESS = """
CREATE OR REPLACE VIEW link_function_effectiveness AS
SELECT
  p.account_id,
  p.link_function,
  COUNT(*) AS applications_with_link,
  COUNT(*) FILTER (WHERE p.clicks > 0) AS applications_with_clicks,
  COALESCE(SUM(p.clicks), 0)::bigint AS total_clicks,
  ROUND(COALESCE(SUM(p.clicks), 0)::numeric / NULLIF(COUNT(*), 0), 2) AS avg_clicks_per_application,
  COUNT(*) FILTER (WHERE p.reached_interview) AS interviews_generated,
  COUNT(*) FILTER (WHERE p.reached_offer) AS offers_generated,
  ROUND(100.0 * COUNT(*) FILTER (WHERE p.reached_interview) / NULLIF(COUNT(*), 0), 2)
    AS interview_conversion_rate,
  ROUND(100.0 * COUNT(*) FILTER (WHERE p.reached_offer) / NULLIF(COUNT(*), 0), 2)
    AS offer_conversion_rate,
  ROUND(100.0 * COUNT(*) FILTER (WHERE p.reached_interview AND p.clicks > 0)
    / NULLIF(COUNT(*) FILTER (WHERE p.clicks > 0), 0), 2) AS clicked_interview_rate,
  COUNT(*) FILTER (WHERE p.reached_interview AND p.clicks > 0) AS clicked_interviews,
  COUNT(*) FILTER (WHERE p.reached_offer AND p.clicks > 0) AS clicked_offers,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY p.hours_to_first_click)
    AS median_hours_to_first_click
FROM application_link_functions p
GROUP BY p.account_id, p.link_function
"""

# Migration 0001's definition, to go back to.
_EFFECTIVENESS_0001 = """
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
GROUP BY p.account_id, p.link_function
"""


def upgrade() -> None:
    op.execute(_OUTCOMES_LATERAL)
    op.execute(_APPLICATION_LINK_FUNCTIONS)
    op.execute("DROP VIEW link_function_effectiveness")
    op.execute(_EFFECTIVENESS)


def downgrade() -> None:
    op.execute("DROP VIEW link_function_effectiveness")
    op.execute("DROP VIEW application_link_functions")
    op.execute("DROP VIEW application_engagement_outcomes")
    op.execute("DROP VIEW application_outcomes")
    op.execute(_OUTCOMES_EXISTS)
    op.execute(_ENGAGEMENT_OUTCOMES_0001)
    op.execute(_EFFECTIVENESS_0001)
