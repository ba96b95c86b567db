-- Seat limits: the most viewers a room holds at once, not counting its performer and
-- staff. NULL means no limit. roomkey refuses tokens for a full room (advisory: its view
-- of occupancy comes from attendance reports and lags); mod_roomkey enforces the limit at
-- join time from the room's real occupants.
ALTER TABLE rooms ADD COLUMN capacity INTEGER CHECK (capacity IS NULL OR capacity > 0);
