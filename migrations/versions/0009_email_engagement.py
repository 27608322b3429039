"""Email engagement (issue 17): open pixel ids, machine-open verdicts, provider event ids.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op

from db.sqlscript import run_script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
-- The id in a contact's open pixel (GET /o/{id}.gif). Random and unguessable, like a link's
-- tracking id; unique among the contacts that have one.
ALTER TABLE application_contacts ADD COLUMN email_tracking_id text;
CREATE UNIQUE INDEX idx_application_contacts_email_tracking_id
  ON application_contacts (email_tracking_id) WHERE email_tracking_id IS NOT NULL;

-- Machine opens and clicks (mail privacy proxies, image proxies, security scanners) are kept
-- with their reason, as bot clicks are (link_clicks.is_bot, bot_reason); every rate counts
-- human events only. provider_event_id: the email provider's own id of an event, so a webhook
-- delivered twice records it once.
ALTER TABLE engagement_tracking
  ADD COLUMN is_machine boolean NOT NULL DEFAULT false,
  ADD COLUMN machine_reason text,
  ADD COLUMN provider_event_id text;
CREATE UNIQUE INDEX idx_engagement_tracking_provider_event
  ON engagement_tracking (campaign_contact_id, provider_event_id)
  WHERE provider_event_id IS NOT NULL;
-- The events that make a contact undeliverable (a hard bounce, a spam report, an
-- unsubscribe): looked up for every follow-up the batch would create and every prediction.
CREATE INDEX idx_engagement_tracking_undeliverable ON engagement_tracking (campaign_contact_id)
  WHERE event_type IN ('unsubscribed', 'spam_reported')
     OR (event_type = 'bounced' AND event_data ->> 'bounce_type' = 'hard');
"""

DOWNGRADE = """
DROP INDEX IF EXISTS idx_engagement_tracking_undeliverable;
DROP INDEX IF EXISTS idx_engagement_tracking_provider_event;
ALTER TABLE engagement_tracking
  DROP COLUMN IF EXISTS provider_event_id,
  DROP COLUMN IF EXISTS machine_reason,
  DROP COLUMN IF EXISTS is_machine;
DROP INDEX IF EXISTS idx_application_contacts_email_tracking_id;
ALTER TABLE application_contacts DROP COLUMN IF EXISTS email_tracking_id;
"""


def upgrade() -> None:
    run_script(op.get_bind(), UPGRADE)


def downgrade() -> None:
    run_script(op.get_bind(), DOWNGRADE)
