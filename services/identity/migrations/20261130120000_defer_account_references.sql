-- The directory's tables are projections of identity's events and a rebuild
-- deletes and projects them again in one transaction (src/write_model/).
-- Accounts point into them; their references are checked at commit, when the
-- rebuilt rows are back.
ALTER TABLE accounts ALTER CONSTRAINT accounts_person_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE accounts ALTER CONSTRAINT accounts_district_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE accounts ALTER CONSTRAINT accounts_school_id_fkey DEFERRABLE INITIALLY DEFERRED;
