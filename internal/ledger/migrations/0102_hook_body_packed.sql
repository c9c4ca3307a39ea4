-- body_z: a verified webhook body kept compactly (issue 17: the bodies
-- were a third of ledger.db): its first byte names the format, 1 = raw
-- DEFLATE primed with the dictionary ledger.hookDictV1, which never
-- changes (a new dictionary is a new format byte). A body recorded so is
-- '' in body; bodies recorded before stay there as they were.
-- ledger.DB.HookBody returns either, byte for byte as the bank signed it.
ALTER TABLE bank_events ADD COLUMN body_z BLOB;
