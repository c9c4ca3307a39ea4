-- rows.description: the payout file's description column, carried into
-- the row's report line with its meta_ columns. Rows recorded before this
-- migration have none ('').
ALTER TABLE rows ADD COLUMN description TEXT NOT NULL DEFAULT '';
