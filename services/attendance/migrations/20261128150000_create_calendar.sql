-- Days without roll calls, and months whose roll calls are fixed.

CREATE TABLE closures (
    id          uuid PRIMARY KEY,
    school_id   uuid NOT NULL,
    from_date   date NOT NULL,
    to_date     date NOT NULL CHECK (to_date >= from_date),
    reason      text NOT NULL,
    declared_by uuid NOT NULL,
    declared_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX closures_by_school ON closures (school_id, from_date);

-- A class's month; `closed` flips back when the principal reopens it.
CREATE TABLE months (
    class_id    uuid NOT NULL,
    month       text NOT NULL,
    closed      boolean NOT NULL,
    times_closed integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (class_id, month)
);
