-- How a guardian chose to appear in conversations (DisplayNameChosen, sealed with
-- their personal data); NULL for the default, "Phụ huynh em …".
ALTER TABLE people ADD COLUMN display_name text;
