-- The months' totals homeroom teachers transferred to the city database, projected
-- from sync's MonthTotalsPushed: a class's latest outcome per month. `sequence`
-- is the event's place among its class and month's pushes, so that a replay's
-- batches may commit in any order and the latest still wins.
CREATE TABLE month_transfers (
    class_id uuid NOT NULL,
    month    text NOT NULL,
    sent     boolean NOT NULL,
    sequence bigint NOT NULL,
    PRIMARY KEY (class_id, month)
);
