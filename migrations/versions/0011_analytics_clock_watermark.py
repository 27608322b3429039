"""A clock watermark per account, so an incremental run skips what the clock has not moved.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

An incremental run gives every application without a dirty mark the clock-only refresh
(migration 0008, db/batch.py): ``engagement_velocity`` and, across a velocity threshold,
``intent_score`` recomputed for the run's ``asOf``. That refresh read every row with clicks of
the run's scope even when the clock had not moved past any change: a no-op rerun cost a quarter
of reading the whole click history (bench/batch.py at 100k applications: 0.25 s against a
1.07 s bare GROUP BY; the target is 0.1x).

``analytics_clock`` holds, per account, an interval ``[valid_from, valid_until)`` of ``asOf``
values over which every application of the account *without a dirty mark* keeps the stored
velocity and intent. A row's values hold from the ``asOf`` they were computed for until the
first instant the rounded velocity or a velocity threshold of the intent score changes (exact
integer arithmetic on the row's clicks and age; db/batch.py ``_next_change``). Maintenance:

* every chunk that computes rows (a recompute, or the clock refresh) intersects the interval of
  each account it touched with its rows' intervals (``valid_from`` up to its ``asOf``,
  ``valid_until`` down to the earliest change), in its own transaction; an account without a
  row gets an untrusted one (``basis_run`` the nil uuid), so a concurrent restart waits for it;
* a run over whole accounts (not one application) whose ``asOf`` the interval does not cover
  resets the account's row to ``[asOf, infinity)`` with ``basis_run`` = the run: its chunks
  evaluate every row and intersect. The interval is trusted only once that run is complete (a
  failed or unfinished run never vouches for rows it did not reach);
* a chunk skips the clock refresh of the accounts whose interval is trusted and covers its
  ``asOf``.

Intersection only ever narrows a trusted interval, and every write intersects in the same
transaction as the write, so a concurrent run (one application, another account run) can only
make the interval smaller. Locks on these rows are taken in account order (deadlock-free).
Nothing here changes a stored metric: a run that skips computes exactly what it would have
written (tests/test_incremental.py compares incremental runs with a full recompute).

With it (bench/batch.py, 100k applications, same run): the no-op rerun takes 0.03 s against a
0.59-0.61 s bare GROUP BY (0.05x; 0.24-0.26x before): an incremental run with no mark whose
accounts are all covered is complete at creation, after one count. The nightly run computes the
bound of each row it refreshes anyway (0.59-0.64 s, 1.0x).
"""

from alembic import op

from db.sqlscript import run_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE analytics_clock (
  account_id uuid PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  valid_from timestamptz NOT NULL,
  valid_until timestamptz NOT NULL,
  -- the run whose completion makes the interval trusted (analytics_runs.id, no foreign key:
  -- a run deleted later only makes the interval untrusted)
  basis_run uuid NOT NULL
);
COMMENT ON TABLE analytics_clock IS
  'Per account: asOf values over which the clean applications keep their stored velocity and intent';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS analytics_clock;
"""


def upgrade() -> None:
    run_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    run_script(op.get_bind(), DOWNGRADE)
