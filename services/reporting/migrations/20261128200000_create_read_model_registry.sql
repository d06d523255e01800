-- The read models and the generation of each that answers queries. A generation
-- lives in a schema of its own (`<schema>_<name>_g<generation>`) fed by the durable
-- consumer `reporting-<name>-g<generation>`; a rebuild fills the next generation
-- beside the live one, then swaps.
CREATE TABLE read_models (
    name                  text PRIMARY KEY,
    generation            bigint NOT NULL,
    rebuilding_generation bigint,
    last_swapped_at       timestamptz
);
