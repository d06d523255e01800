-- Whether a school's late marks tell guardians (src/notices/rules.rs).
ALTER TABLE school_policies ADD COLUMN notify_late boolean NOT NULL DEFAULT false;
