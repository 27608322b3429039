"""Deterministic demo data for `linkinsights seed`, `serve --demo` and the benchmarks.

A realistic history for an account: a few hundred applications over the last six months, the
standard link package of seed 002 on each (every link function), human clicks with
hour-of-day and weekday patterns in the account's timezone, email-scanner bursts, crawler
hits and HEAD probes (flagged as bots, with the domain's reasons), contacts with email
events, and status histories where engagement really raises the odds of an interview (a
Calendly click, a first click within four hours, more clicks).

- ``distributions``: the rates, weights, names and calendars the data is drawn from;
- ``generator``: the deterministic row stream (same seed, ``now`` and account: same rows);
- ``rows``: one NamedTuple per table, whose fields are the COPY columns.

The loader, which writes the rows with COPY, is ``db.demo`` (SQL stays in ``db/``).
"""
