-- The bank's daily report in its documented format (issue 14): amounts
-- paymentLocalAmount / grossLocalAmount / feesLocalAmount, both times, the
-- product; reports split into parts; reports of a day that was not over
-- when imported (partial); the days the reports cover completely.

-- bank_reports.part: the part of a split report this file is, by its name
-- (1, 2, ...); 0 for a whole report (or all its parts read together).
-- files: how its tables were read (JSON: name, format, encoding,
-- delimiter, lines), as evidence.
ALTER TABLE bank_reports ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bank_reports ADD COLUMN files TEXT NOT NULL DEFAULT '';

-- bank_report_days.partial: the day was not over in the bank's time zone
-- when the report was imported, so the report lists some of its
-- operations only and never covers it.
ALTER TABLE bank_report_days ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;

-- bank_report_lines: the rest of the documented columns. transaction_date
-- is the line's day (YYYY-MM-DD in the bank's zone: of finishedAt, else of
-- transactionDate); created_at and finished_at are RFC 3339 (finished_at
-- as the bank wrote it in reports imported before this migration);
-- amount_minor is paymentLocalAmount, gross_minor grossLocalAmount and
-- fee_minor feesLocalAmount. file and file_line say where in a report of
-- several tables the line is.
ALTER TABLE bank_report_lines ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
ALTER TABLE bank_report_lines ADD COLUMN gross_minor INTEGER;
ALTER TABLE bank_report_lines ADD COLUMN product TEXT NOT NULL DEFAULT '';
ALTER TABLE bank_report_lines ADD COLUMN file INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bank_report_lines ADD COLUMN file_line INTEGER NOT NULL DEFAULT 0;

-- bank_days: the days (YYYY-MM-DD, the bank's zone) the imported reports
-- cover completely: a whole report, or the configured number of distinct
-- parts, each imported after the day was over. A success the ledger
-- recorded on a covered day that no report lists is an exception; a
-- payout sent on a day that is covered, with the next day, and listed by
-- no report never reached the bank.
CREATE TABLE bank_days (
    day        TEXT PRIMARY KEY,
    covered_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO bank_days (day, covered_at)
    SELECT d.day, min(r.imported_at) FROM bank_report_days d JOIN bank_reports r ON r.id = d.report_id
    WHERE r.complete = 1 GROUP BY d.day;

-- Rows in doubt, for the report's rule on payouts that never reached the bank.
CREATE INDEX rows_in_doubt ON rows (batch_id, row_no) WHERE state = 'in_doubt';
