-- Reporting keeps no names or birth dates: reports ask identity for them with
-- their reader's token (src/names.rs). Directory read models of earlier
-- generations lose the columns that held them.
DO $$
DECLARE
    generation text;
BEGIN
    FOR generation IN
        SELECT nspname FROM pg_namespace
        WHERE nspname LIKE replace(current_schema(), '_', '\_') || '\_directory\_g%'
    LOOP
        EXECUTE format(
            'ALTER TABLE IF EXISTS %I.students DROP COLUMN IF EXISTS full_name, DROP COLUMN IF EXISTS birth_date',
            generation
        );
    END LOOP;
END
$$;
