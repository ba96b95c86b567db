-- The bans in force on a user are those not lifted with no end or an end still to come.
-- Indexed by user alone, finding them read every ban the user ever had from the table,
-- and on a platform most of a banned viewer's bans are over; indexed by user and end, the
-- ended ones are passed over in the index, as `entitlements_user` passes over ended
-- entitlements.
DROP INDEX bans_user;
CREATE INDEX bans_user ON bans (user_id, until);
