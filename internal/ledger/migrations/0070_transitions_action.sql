-- When each row's 3-D Secure link was recorded (its latest move to
-- action_required), for the link's expiry in the report (issue 15): a
-- partial index, so reading a batch's links does not scan its transitions.
CREATE INDEX transitions_action ON transitions (batch_id, row_no, at) WHERE to_state = 'action_required';
