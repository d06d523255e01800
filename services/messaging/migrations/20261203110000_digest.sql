-- A person's choice that messages that are not urgent wait for one digest a day
-- (src/delivery/rules.rs), and the deliveries that wait for it.
ALTER TABLE delivery_preferences ADD COLUMN daily_digest boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD COLUMN digest boolean NOT NULL DEFAULT false;
