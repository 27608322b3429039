-- bench/peer.py only (issue 19), run in the bench database before PostGraphile starts: the
-- nearest PostGraphile equivalent of `engagementSummary` (no filter), a STABLE SQL function
-- PostGraphile's amber preset exposes as `Query.engagementSummary(account: UUID)`. It reads
-- the same seed 000 views as db/analytics.py's summary statement and computes the figures
-- (rates, Wilson intervals, the insight sentence) in SQL as domain/stats.py does in Python;
-- bench/peer.py checks the two agree before it measures. Not a migration: the helpers live
-- in a schema PostGraphile does not serve, and everything is dropped and made again each run.
DROP FUNCTION IF EXISTS public.engagement_summary(uuid);
DROP SCHEMA IF EXISTS peer_bench CASCADE;
DROP TYPE IF EXISTS public.engagement_summary_figures, public.engagement_outcome_figures,
  public.engagement_link_figures CASCADE;
CREATE SCHEMA peer_bench;

CREATE TYPE public.engagement_outcome_figures AS (
  level text, count int, interviews int, offers int,
  interview_rate numeric, interview_low numeric, interview_high numeric,
  offer_rate numeric, offer_low numeric, offer_high numeric
);
CREATE TYPE public.engagement_link_figures AS (
  function text, applications_with_link int, total_clicks int,
  interview_rate numeric, clicked_interview_rate numeric
);
CREATE TYPE public.engagement_summary_figures AS (
  total_applications int, applications_with_clicks int, total_clicks int,
  engagement_rate numeric, avg_clicks_per_application numeric,
  outcomes public.engagement_outcome_figures[],
  link_effectiveness public.engagement_link_figures[],
  insight text, computed_at timestamptz
);

-- domain.stats in SQL: percent and average half up to two places, the Wilson interval.
CREATE FUNCTION peer_bench.percent(part int, whole int) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN whole > 0 THEN round(100::numeric * part / whole, 2) END
$$;
CREATE FUNCTION peer_bench.average(total int, n int) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN n > 0 THEN round(total::numeric / n, 2) END
$$;
CREATE FUNCTION peer_bench.wilson(successes int, trials int, upper boolean) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN trials <= 0 THEN NULL
    WHEN NOT upper AND successes = 0 THEN 0
    WHEN upper AND successes = trials THEN 100
    WHEN upper THEN round((100 * least(1.0, w.centre + w.half))::numeric, 2)
    ELSE round((100 * greatest(0.0, w.centre - w.half))::numeric, 2)
  END
  FROM (
    SELECT (w.p + w.z2 / (2 * trials)) / w.d AS centre,
           w.z * sqrt(w.p * (1 - w.p) / trials + w.z2 / (4 * trials * trials)) / w.d AS half
    FROM (
      SELECT successes::float8 / trials AS p, 1.959963984540054::float8 AS z,
             1.959963984540054::float8 * 1.959963984540054::float8 AS z2,
             1 + 1.959963984540054::float8 * 1.959963984540054::float8 / trials AS d
    ) w
  ) w
$$;
CREATE FUNCTION peer_bench.percent_text(rate numeric) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN rate = trunc(rate) THEN trunc(rate)::bigint || '%'
              ELSE to_char(rate, 'FM999999990.00') || '%' END
$$;
CREATE FUNCTION peer_bench.reach_sentence(subject text, reached int, total int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN total < 5 THEN
    format('Too few %s (%s) to say how often they reach interview; insights need at least 5.',
           subject, total)
  ELSE
    format('%s%s reached interview %s of the time (%s of %s).', upper(left(subject, 1)),
           substr(subject, 2), peer_bench.percent_text(peer_bench.percent(reached, total)),
           reached, total)
  END
$$;

-- engagementSummary without a filter: the same two views, one statement, computed per call.
CREATE FUNCTION public.engagement_summary(account uuid) RETURNS public.engagement_summary_figures
LANGUAGE sql STABLE AS $$
WITH per_app AS MATERIALIZED (
  SELECT o.total_clicks AS clicks, o.reached_interview, o.reached_offer
  FROM application_engagement_outcomes o
  WHERE o.account_id = account
),
levels AS (
  SELECT v.level, v.ord,
         count(p.clicks)::int AS n,
         count(*) FILTER (WHERE p.reached_interview)::int AS interviews,
         count(*) FILTER (WHERE p.reached_offer)::int AS offers
  FROM (VALUES ('NONE', 1), ('LOW', 2), ('HIGH', 3)) v (level, ord)
  LEFT JOIN per_app p
    ON v.level = CASE WHEN p.clicks <= 0 THEN 'NONE' WHEN p.clicks <= 2 THEN 'LOW' ELSE 'HIGH' END
  GROUP BY v.level, v.ord
),
totals AS (
  SELECT count(*)::int AS total, count(*) FILTER (WHERE clicks > 0)::int AS clicked,
         coalesce(sum(clicks), 0)::int AS clicks
  FROM per_app
),
functions AS (
  SELECT p.link_function::text AS name,
         count(*)::int AS n,
         count(*) FILTER (WHERE p.clicks > 0)::int AS c,
         coalesce(sum(p.clicks), 0)::int AS clicks,
         count(*) FILTER (WHERE p.reached_interview)::int AS interviews,
         count(*) FILTER (WHERE p.reached_interview AND p.clicks > 0)::int AS clicked_interviews
  FROM application_link_functions p
  WHERE p.account_id = account
  GROUP BY p.link_function
)
SELECT ROW(
  t.total, t.clicked, t.clicks,
  peer_bench.percent(t.clicked, t.total),
  peer_bench.average(t.clicks, t.total),
  (SELECT array_agg(ROW(
            l.level, l.n, l.interviews, l.offers,
            peer_bench.percent(l.interviews, l.n),
            peer_bench.wilson(l.interviews, l.n, false),
            peer_bench.wilson(l.interviews, l.n, true),
            peer_bench.percent(l.offers, l.n),
            peer_bench.wilson(l.offers, l.n, false),
            peer_bench.wilson(l.offers, l.n, true)
          )::public.engagement_outcome_figures ORDER BY l.ord)
   FROM levels l),
  (SELECT coalesce(array_agg(ROW(
            f.name, f.n, f.clicks,
            peer_bench.percent(f.interviews, f.n),
            peer_bench.percent(f.clicked_interviews, f.c)
          )::public.engagement_link_figures
          ORDER BY peer_bench.percent(f.interviews, f.n) DESC NULLS LAST, f.n DESC,
                   f.name COLLATE "C"), '{}')
   FROM functions f),
  CASE WHEN t.total = 0 THEN 'No applications match yet.'
  ELSE format('%s of %s applications (%s) had a human click. %s %s', t.clicked, t.total,
              peer_bench.percent_text(coalesce(peer_bench.percent(t.clicked, t.total), 0)),
              (SELECT peer_bench.reach_sentence('applications with 3 or more clicks',
                                                l.interviews, l.n)
               FROM levels l WHERE l.level = 'HIGH'),
              (SELECT peer_bench.reach_sentence('applications never clicked', l.interviews, l.n)
               FROM levels l WHERE l.level = 'NONE'))
  END,
  now()
)::public.engagement_summary_figures
FROM totals t
$$;
