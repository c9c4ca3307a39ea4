-- The rows the bank paid after the ledger finished them failed or
-- cancelled (a paid_after_cancel exception, open or closed): the duplicate
-- guard and resubmit treat them as paid (review of issue 11), so finding
-- them by row must not scan every exception.
CREATE INDEX exceptions_paid_after_cancel ON exceptions (batch_id, row_no) WHERE category = 'paid_after_cancel';
