-- Test stand-in for a pre-join hook that waits before the occupant is in (a Jitsi module
-- that makes an HTTP lookup inside muc-occupant-pre-join, say): for rooms whose name
-- starts with "race", a join processed in its session's async runner pauses here, after
-- mod_roomkey has admitted it (priority 20) and before mod_muc seats it. Other joins in
-- the meantime see the room without that occupant, which is what makes a seat
-- reservation necessary (tests/prosody/seats.py).

local async = require "util.async";
local jid_split = require "util.jid".split;

local pause = module:get_option_number("prejoin_pause_seconds", 0.3);

module:hook("muc-occupant-pre-join", function (event)
	local node = jid_split(event.room.jid);
	if not node or node:sub(1, 4) ~= "race" or not async.ready() then return; end
	local wait, done = async.waiter();
	module:add_timer(pause, done);
	wait();
end, 15);
