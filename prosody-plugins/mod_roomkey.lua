-- mod_roomkey: roomkey decides who may be in a room; this module asks and enforces.
--
-- Load on the MUC component (Prosody 0.12, Lua 5.4). Wire protocol: PROTOCOL.md next to
-- this file; options and deployment: README.md.
--
-- What it does:
--   * asks roomkey for a verdict once per session and room, caches it on the session
--     until its `recheck_at` (denials at most `roomkey_deny_cache_seconds`) or a
--     `revalidate` command; with Jitsi tokens the question is asked when the token is
--     verified, so the join itself usually finds the answer already there;
--   * muc-occupant-pre-join never waits: it decides from the cached verdict, or holds
--     the presence, asks, and posts the presence again when the answer arrives;
--   * sets each occupant's affiliation from the verdict and lets nobody else make owners;
--   * removes occupants when roomkey says so: signed commands (kick, revalidate,
--     end_room), a timer at each occupant's `recheck_at`, and a periodic reconcile;
--   * shows roomkey's announcements (a confirmed tip) in each occupant's chat (`announce`);
--   * reports joins, leaves and destroyed rooms in batches (attendance);
--   * serves `GET stats`: pre-join decision latency percentiles and counters.
--
-- It never blocks Prosody and never waits inside a hook, so it is safe to run from
-- timers, from other sessions' threads, and repeatedly for the same stanza (Jitsi's
-- rate limiter and meeting-id modules replay joins).

local st = require "util.stanza";
local jid_util = require "util.jid";
local json = require "util.json";
local hashes = require "util.hashes";
local new_uuid = require "util.uuid".generate;
local time = require "util.time";
local http = require "net.http";
local usermanager = require "core.usermanager";

local jid_bare, jid_host, jid_split, jid_resource = jid_util.bare, jid_util.host, jid_util.split, jid_util.resource;
local hmac_sha256 = hashes.hmac_sha256;
local now, monotonic = time.now, time.monotonic;
local os_time = os.time;
local t_insert, t_remove, t_sort = table.insert, table.remove, table.sort;
local m_floor, m_min, m_max = math.floor, math.min, math.max;
local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber;

local json_null = json.null;
local full_sessions = prosody.full_sessions;
local core_post_stanza = prosody.core_post_stanza;

-- Constant-time comparison of two strings. Prosody 0.12's util.hashes has `equals`
-- (CRYPTO_memcmp); older builds get a plain Lua loop that does not stop early.
local equals = hashes.equals or function (a, b)
	if #a ~= #b then return false; end
	local diff = 0;
	for i = 1, #a do
		diff = diff | (a:byte(i) ~ b:byte(i));
	end
	return diff == 0;
end;

---------------------------------------------------------------------------
-- Options (read once; a gate must never disable itself silently)

local MAX_BATCH = 500; -- PROTOCOL.md: 1 to 500 checks or events per request
local SIGNATURE_WINDOW = 60; -- seconds, PROTOCOL.md
local COMMAND_MEMORY = 120; -- seconds a command id is remembered, PROTOCOL.md

local roomkey_url = module:get_option_string("roomkey_url");
local secret = module:get_option_string("roomkey_secret");
if not roomkey_url or roomkey_url == "" then
	error("mod_roomkey: set roomkey_url (e.g. \"http://127.0.0.1:8080\")");
end
if not secret or #secret < 16 then
	error("mod_roomkey: set roomkey_secret (the same value as roomkey's prosody.secret, at least 16 characters)");
end
roomkey_url = roomkey_url:gsub("/+$", "");

local identity_mode = module:get_option_string("roomkey_identity", "jitsi_token");
if identity_mode ~= "jitsi_token" and identity_mode ~= "username" then
	error("mod_roomkey: roomkey_identity must be \"jitsi_token\" or \"username\"");
end

local fail_mode = module:get_option_string("roomkey_fail_mode", "closed_for_paid");
if fail_mode ~= "closed_for_paid" and fail_mode ~= "closed" and fail_mode ~= "open" then
	error("mod_roomkey: roomkey_fail_mode must be \"closed_for_paid\", \"closed\" or \"open\"");
end

local function positive_number(name, default)
	local value = module:get_option_number(name, default);
	if type(value) ~= "number" or value <= 0 then
		error("mod_roomkey: "..name.." must be a positive number");
	end
	return value;
end

local shard = module:get_option_string("roomkey_shard", module.host);
local request_timeout = positive_number("roomkey_request_timeout", 5);
local reconcile_interval = positive_number("roomkey_reconcile_interval", 60);
local deny_cache_seconds = positive_number("roomkey_deny_cache_seconds", 10);
local queue_size = m_floor(positive_number("roomkey_event_queue_size", 10000));
local batch_size = m_min(MAX_BATCH, m_floor(positive_number("roomkey_event_batch_size", MAX_BATCH)));
local flush_interval = positive_number("roomkey_event_flush_interval", 1);
local retry_limit = m_floor(positive_number("roomkey_event_retry_limit", 8));
local max_backoff = positive_number("roomkey_event_max_backoff", 60);
local prejoin_priority = module:get_option_number("roomkey_prejoin_priority", 20);
local guard_owner = module:get_option_boolean("roomkey_guard_owner", true);
local exempt_admins = module:get_option_boolean("roomkey_exempt_admins", true);
local expose_stats = module:get_option_boolean("roomkey_stats", true);
local max_held_per_session = 16;

-- Jitsi's service accounts (Jicofo, Jigasi: auth.<domain>; Jibri: recorder.<domain>)
-- are never checked or reported. Entries are JID domains or bare JIDs.
local domain_base = module:get_option_string("muc_mapper_domain_base", (module.host:gsub("^[^.]+%.", "")));
local exempt = module:get_option_set("roomkey_exempt", { "auth."..domain_base, "recorder."..domain_base });

---------------------------------------------------------------------------
-- Counters and latency samples (served by GET stats)

local counters = {
	verdict_requests = 0; -- HTTP requests to /api/prosody/verdicts
	verdict_checks = 0; -- checks in those requests
	verdict_failures = 0; -- requests without a usable answer
	joins_allowed = 0;
	joins_denied = 0;
	joins_held = 0; -- joins that waited for an answer
	joins_held_prefetching = 0; -- of those, joins whose question was already asked (a prefetch on its way)
	joins_failed_open = 0; -- allowed without an answer (fail mode)
	joins_failed_closed = 0; -- refused without an answer (fail mode)
	removals = 0; -- occupants removed by verdict, kick or recheck
	commands = 0;
	commands_rejected = 0; -- bad signature or stale timestamp
	commands_replayed = 0;
	events_queued = 0;
	events_sent = 0;
	events_dropped = 0; -- queue overflow or a batch given up after retries
	event_batches_failed = 0;
	reconciles = 0;
	warnings = 0; -- private-call warnings sent before the credit runs out
	announcements_skipped = 0; -- pre-join grants not announced to the whole room (see grant_while_joining)
};

local SAMPLE_CAP = 8192;
local function new_samples() return { n = 0, next = 1, values = {} }; end
local samples = { prejoin_cached = new_samples(), prejoin_first = new_samples() };

local function add_sample(series, seconds)
	series.values[series.next] = seconds;
	series.next = series.next % SAMPLE_CAP + 1;
	series.n = series.n + 1;
end

local function summarize(series)
	local values = {};
	for i, v in ipairs(series.values) do values[i] = v; end
	t_sort(values);
	local count = #values;
	local function pct(p)
		if count == 0 then return json_null; end
		local rank = m_max(1, math.ceil(p / 100 * count));
		return values[rank] * 1000;
	end
	return {
		count = series.n; window = count;
		p50_ms = pct(50); p90_ms = pct(90); p99_ms = pct(99); max_ms = pct(100);
	};
end

---------------------------------------------------------------------------
-- Small helpers

local function log_errors(what, f, ...)
	local ok, err = xpcall(f, debug.traceback, ...);
	if not ok then
		module:log("error", "%s failed: %s", what, err);
	end
end

local function is_nonempty_string(value)
	return type(value) == "string" and value ~= "";
end

local function is_exempt(real_jid)
	if not real_jid then return true; end
	local bare = jid_bare(real_jid);
	if exempt:contains(bare) or exempt:contains(jid_host(real_jid)) then return true; end
	return exempt_admins and usermanager.is_admin(bare, module.host) or false;
end

-- The roomkey user id (and token id, if any) of a session, or nil.
local function identity_of(session)
	if type(session) ~= "table" then return nil; end
	if identity_mode == "username" then
		if is_nonempty_string(session.username) then return session.username, nil; end
		return nil;
	end
	local user = session.jitsi_meet_context_user;
	local id = type(user) == "table" and user.id;
	if not is_nonempty_string(id) then return nil; end
	return id, session.roomkey_jti;
end

local function get_room(room_jid)
	local muc = prosody.hosts[module.host] and prosody.hosts[module.host].modules.muc;
	return muc and muc.get_room_from_jid(room_jid) or nil;
end

local function room_node_of(room_jid)
	return (jid_split(room_jid));
end

local function is_room_node(value)
	return is_nonempty_string(value) and not value:find("[@/%s]");
end

---------------------------------------------------------------------------
-- Signed HTTP to roomkey

local function sign(kind, timestamp, body)
	return "v1="..hmac_sha256(secret, "v1:"..kind..":"..timestamp..":"..body, true);
end

-- POST a signed JSON body; cb(code, body) exactly once (code 0: no answer).
local function post(kind, path, body, cb)
	local timestamp = tostring(os_time());
	local finished, timer = false, nil;
	local function finish(code, response_body)
		if finished then return; end
		finished = true;
		if timer then timer:stop(); end
		log_errors("roomkey "..kind.." callback", cb, code, response_body);
	end
	local req = http.request(roomkey_url..path, {
		method = "POST";
		body = body;
		headers = {
			["Content-Type"] = "application/json";
			["X-Roomkey-Timestamp"] = timestamp;
			["X-Roomkey-Signature"] = sign(kind, timestamp, body);
		};
	}, function (response_body, code)
		finish(type(code) == "number" and code or 0, response_body);
	end);
	if not finished then
		timer = module:add_timer(request_timeout, function ()
			if finished then return; end
			module:log("warn", "roomkey %s request timed out after %ss", kind, request_timeout);
			if req then http.destroy_request(req); end
			finish(0, "timeout");
		end);
	end
end

local function decode_object(body)
	if type(body) ~= "string" or body == "" then return nil; end
	local ok, value = pcall(json.decode, body);
	if not ok or type(value) ~= "table" then return nil; end
	return value;
end

local function opt_string(value)
	if is_nonempty_string(value) then return value; end
	return nil;
end

-- A room's seats for viewers from the wire: a positive whole number, else no limit.
local function parse_capacity(value)
	if type(value) == "number" and value >= 1 and value == m_floor(value) then return m_floor(value); end
	return nil;
end

---------------------------------------------------------------------------
-- Private calls: a warning before the viewer's credit runs out (PROTOCOL.md, "Warnings")

-- `warn_at` and `warning` from a verdict, or nothing when either is missing or malformed.
local function parse_warning(raw)
	local warn_at, warning = raw.warn_at, opt_string(raw.warning);
	if type(warn_at) ~= "number" or warn_at ~= warn_at or not warning then return nil, nil; end
	return warn_at, warning;
end

-- One verdict from the wire, checked against the check it answers.
local function parse_verdict(raw, check)
	if type(raw) ~= "table" or type(raw.allow) ~= "boolean" then return nil; end
	if raw.user_id ~= check.user_id or raw.room ~= check.room then return nil; end
	local recheck_at = raw.recheck_at;
	if type(recheck_at) ~= "number" or recheck_at ~= recheck_at then recheck_at = nil; end
	local verdict = {
		user_id = check.user_id;
		room = check.room;
		jti = check.jti;
		allow = raw.allow;
		-- least privilege: anything but "owner" is a member
		affiliation = raw.allow and (raw.affiliation == "owner" and "owner" or "member") or nil;
		recheck_at = recheck_at;
		paid = raw.paid == true;
		code = opt_string(raw.code);
		reason = opt_string(raw.reason);
		capacity = parse_capacity(raw.capacity);
	};
	verdict.warn_at, verdict.warning = parse_warning(raw);
	local expires = recheck_at;
	if not verdict.allow then
		expires = m_min(expires or math.huge, os_time() + deny_cache_seconds);
	end
	verdict.expires = expires;
	return verdict;
end

-- Rooms roomkey said are free (or paid), for the fail mode when it cannot be reached.
local room_paid = require "util.cache".new(10000);
-- Each room's last known capacity (false: none), kept for joins admitted without an answer.
local room_capacity = require "util.cache".new(10000);

-- checks: array of { user_id =, room =, jti = }; cb(verdicts) or cb(nil, err).
local function request_verdicts(checks, cb)
	local wire = {};
	for i, check in ipairs(checks) do
		wire[i] = { user_id = check.user_id; room = check.room; jti = check.jti or json_null };
	end
	counters.verdict_requests = counters.verdict_requests + 1;
	counters.verdict_checks = counters.verdict_checks + #checks;
	post("verdicts", "/api/prosody/verdicts", json.encode({ shard = shard; checks = wire }), function (code, body)
		if code ~= 200 then
			counters.verdict_failures = counters.verdict_failures + 1;
			module:log("warn", "roomkey verdicts: %s", code == 0 and tostring(body) or ("HTTP "..code));
			return cb(nil, "unreachable");
		end
		local reply = decode_object(body);
		local list = reply and reply.verdicts;
		if type(list) ~= "table" or #list ~= #checks then
			counters.verdict_failures = counters.verdict_failures + 1;
			module:log("warn", "roomkey verdicts: malformed answer");
			return cb(nil, "malformed");
		end
		local verdicts = {};
		for i, check in ipairs(checks) do
			local verdict = parse_verdict(list[i], check);
			if not verdict then
				counters.verdict_failures = counters.verdict_failures + 1;
				module:log("warn", "roomkey verdicts: malformed verdict %d", i);
				return cb(nil, "malformed");
			end
			room_paid:set(check.room, verdict.paid);
			room_capacity:set(check.room, verdict.capacity or false);
			verdicts[i] = verdict;
		end
		cb(verdicts);
	end);
end

-- One check, shared by everyone asking the same question at the same time.
local inflight = {};
local function fetch_verdict(user_id, room, jti, cb)
	local key = user_id.."\0"..room.."\0"..(jti or "");
	local waiting = inflight[key];
	if waiting then
		t_insert(waiting, cb);
		return;
	end
	waiting = { cb };
	inflight[key] = waiting;
	request_verdicts({ { user_id = user_id; room = room; jti = jti } }, function (verdicts)
		inflight[key] = nil;
		for _, f in ipairs(waiting) do
			log_errors("verdict callback", f, verdicts and verdicts[1]);
		end
	end);
end

-- The answer for a new join when roomkey could not be asked (never cached).
local function failure_verdict(user_id, room)
	local allow = fail_mode == "open" or (fail_mode == "closed_for_paid" and room_paid:get(room) == false);
	return {
		user_id = user_id; room = room; allow = allow; failure = true;
		capacity = room_capacity:get(room) or nil;
		affiliation = allow and "member" or nil;
		code = not allow and "unavailable" or nil;
		reason = not allow and "Access cannot be checked right now; please try again shortly" or nil;
	};
end

---------------------------------------------------------------------------
-- Verdicts cached on sessions

local sessions_by_user = {}; -- user id -> set of sessions (weak keys)
local MAX_ROOMS_PER_SESSION = 64;

local function cache_verdict(session, room_jid, verdict)
	local verdicts = session.roomkey_verdicts;
	if not verdicts then
		verdicts = { n = 0 };
		session.roomkey_verdicts = verdicts;
	end
	if not verdicts[room_jid] then
		if verdicts.n >= MAX_ROOMS_PER_SESSION then
			verdicts = { n = 0 };
			session.roomkey_verdicts = verdicts;
		end
		verdicts.n = verdicts.n + 1;
	end
	verdicts[room_jid] = verdict;
	local set = sessions_by_user[verdict.user_id];
	if not set then
		set = setmetatable({}, { __mode = "k" });
		sessions_by_user[verdict.user_id] = set;
	end
	set[session] = true;
end

local function cached_verdict(session, room_jid, user_id, jti)
	local verdicts = session.roomkey_verdicts;
	local verdict = verdicts and verdicts[room_jid];
	if not verdict then return nil; end
	if verdict.user_id ~= user_id or verdict.jti ~= jti
		or (verdict.expires and os_time() >= verdict.expires) then
		verdicts[room_jid] = nil;
		verdicts.n = verdicts.n - 1;
		return nil;
	end
	return verdict;
end

local function forget_user(user_id)
	local set = sessions_by_user[user_id];
	if not set then return; end
	for session in pairs(set) do
		session.roomkey_verdicts = nil;
	end
	sessions_by_user[user_id] = nil;
end

local function session_alive(session, full_jid)
	return full_jid and full_sessions[full_jid] == session and not session.destroyed;
end

---------------------------------------------------------------------------
-- Seats: a room's capacity for viewers (PROTOCOL.md, "Verdicts": `capacity`)
--
-- A viewer (a "member" verdict) takes a seat when pre-join admits them, in the same
-- synchronous step as the count, so two joins racing for the last seat (held joins
-- included: they are counted when posted again) never both get in. The owner, staff and
-- exempt accounts take none. A seat belongs to a user, whatever their number of
-- occupants, and is held while one of them is in, for SEAT_RESERVE seconds after an
-- admission until the occupant appears (a join another module refuses gives it back),
-- and for `roomkey_seat_grace` seconds after their last occupant left: for them alone,
-- so a reconnect finds it.

local SEAT_RESERVE = 10; -- seconds an admitted join holds its seat before it is in
local seat_grace = positive_number("roomkey_seat_grace", 30);
local seats = {}; -- room JID -> user id -> { present = occupants in, held_until = t }
counters.seats_refused = 0; -- joins refused because every seat was taken

local function seat_holds(seat, t)
	return seat.present > 0 or seat.held_until > t;
end

-- Seats held in a room now; forgets seats that are no longer held.
local function seats_taken(room_seats, t)
	local taken = 0;
	for user_id, seat in pairs(room_seats) do
		if seat_holds(seat, t) then
			taken = taken + 1;
		else
			room_seats[user_id] = nil;
		end
	end
	return taken;
end

-- Admits `user_id` to a seat of `room_jid`, or returns false when all `capacity` are
-- taken by others. Never yields: the count and the reservation are one step.
local function take_seat(room_jid, user_id, capacity)
	local t = now();
	local room_seats = seats[room_jid];
	if not room_seats then
		room_seats = {};
		seats[room_jid] = room_seats;
	end
	local seat = room_seats[user_id];
	if seat and seat_holds(seat, t) then
		seat.held_until = m_max(seat.held_until, t + SEAT_RESERVE);
		return true;
	end
	if seats_taken(room_seats, t) >= capacity then
		counters.seats_refused = counters.seats_refused + 1;
		return false;
	end
	room_seats[user_id] = { present = 0; held_until = t + SEAT_RESERVE };
	return true;
end

-- An admitted viewer's occupant is in; true when it holds a seat.
local function seat_joined(room_jid, user_id)
	local seat = seats[room_jid] and seats[room_jid][user_id];
	if not seat then return false; end
	seat.present = seat.present + 1;
	seat.held_until = 0; -- in now: the reservation is spent, a leave starts the grace period
	return true;
end

-- A seated occupant is gone; the user's last one leaves the seat held for the grace period.
local function seat_left(room_jid, user_id)
	local seat = seats[room_jid] and seats[room_jid][user_id];
	if not seat then return; end
	seat.present = m_max(0, seat.present - 1);
	if seat.present == 0 then
		seat.held_until = m_max(seat.held_until, now() + seat_grace);
	end
end

-- Rooms with no seat held any more are forgotten (from the reconcile timer).
local function sweep_seats()
	local t = now();
	for room_jid, room_seats in pairs(seats) do
		if seats_taken(room_seats, t) == 0 then seats[room_jid] = nil; end
	end
end

-- Pre-join's seat check for an allowed verdict: only viewers of rooms with a capacity.
-- The room's latest capacity from any verdict wins over the one cached on this session,
-- so a capacity changed during the show applies as soon as anyone is asked about again.
local function admit_seat(room_jid, user_id, verdict)
	if verdict.affiliation ~= "member" then return true; end
	local capacity = room_capacity:get(verdict.room);
	if capacity == nil then capacity = verdict.capacity; end
	if not capacity then return true; end
	verdict.capacity = capacity; -- for the refusal's text
	return take_seat(room_jid, user_id, capacity);
end

local function deny_full(origin, stanza, room, verdict)
	counters.joins_denied = counters.joins_denied + 1;
	module:log("info", "refusing %s in %s: all %d seats taken", verdict.user_id, room.jid, verdict.capacity);
	-- XEP-0045 §7.2.10: a room at its maximum of occupants answers service-unavailable.
	origin.send(st.error_reply(stanza, "wait", "service-unavailable",
		"This room is full ("..verdict.capacity.." seats taken); please try again in a moment", room.jid));
	return true;
end

---------------------------------------------------------------------------
-- Occupants we track (everyone checked; service accounts are not)

local occupants = {}; -- occupant nick JID -> record
local occupants_by_user = {}; -- user id -> set of records
local rooms_seen = {}; -- room JID -> true once a tracked occupant joined

local enqueue_event; -- below
local schedule_recheck; -- below

local function untrack(record)
	if record.seated then
		record.seated = nil;
		seat_left(record.room_jid, record.user_id);
	end
	occupants[record.nick] = nil;
	local set = occupants_by_user[record.user_id];
	if set then
		set[record] = nil;
		if next(set) == nil then occupants_by_user[record.user_id] = nil; end
	end
	if record.timer then record.timer:stop(); record.timer = nil; end
	if record.warn_timer then record.warn_timer:stop(); record.warn_timer = nil; end
end

local function remove_occupant(record, reason)
	local room = get_room(record.room_jid);
	if not room or not room:get_occupant_by_nick(record.nick) then
		untrack(record);
		return false;
	end
	local ok, err = room:set_role(true, record.nick, nil, reason);
	if not ok then
		module:log("warn", "could not remove %s: %s", record.nick, tostring(err));
		return false;
	end
	counters.removals = counters.removals + 1;
	return true;
end

-- Who roomkey made owner, per room; every other owner grant is refused (guard_owner).
local owners = {}; -- room JID -> set of bare JIDs
local granting = nil;

-- Prosody's announcement of an absent user's affiliation change (XEP-0045 example 195):
-- a bodiless message from the room whose muc#user item names that user.
local function is_absent_user_announcement(stanza, room_jid, bare_jid)
	if stanza.name ~= "message" or stanza.attr.from ~= room_jid or stanza:get_child("body") then
		return false;
	end
	local x = stanza:get_child("x", "http://jabber.org/protocol/muc#user");
	local item = x and x:get_child("item");
	return item ~= nil and item.attr.jid == bare_jid;
end

-- A grant made in pre-join is for a user who is not in the room yet, so the MUC announces
-- it to every occupant with a message of its own, and the joiner's presence, broadcast a
-- moment later, carries the same affiliation to everyone allowed to see it. The message
-- made every join cost work proportional to the room inside this module's pre-join hook
-- (6-7 ms at 300 occupants, a third of Prosody's work in a join storm). The grant itself
-- still goes through set_affiliation, with its events and vetoes: paid viewers must be
-- members, or a performer's switch to members-only (the lobby) would remove them. Only
-- that one announcement is dropped, by the room's broadcast for the length of the call.
local function grant_while_joining(room, bare_jid, affiliation)
	local own_broadcast = rawget(room, "broadcast");
	local broadcast = room.broadcast;
	room.broadcast = function (self, stanza, ...)
		if is_absent_user_announcement(stanza, self.jid, bare_jid) then
			counters.announcements_skipped = counters.announcements_skipped + 1;
			return;
		end
		return broadcast(self, stanza, ...);
	end;
	local ok, done, err, condition = pcall(room.set_affiliation, room, true, bare_jid, affiliation, "roomkey");
	room.broadcast = own_broadcast;
	if not ok then
		granting = nil;
		error(done, 0);
	end
	return done, err, condition;
end

local function set_affiliation(room, bare_jid, affiliation, joining)
	local room_owners = owners[room.jid];
	if affiliation == "owner" then
		if not room_owners then
			room_owners = {};
			owners[room.jid] = room_owners;
		end
		room_owners[bare_jid] = true;
	elseif room_owners then
		room_owners[bare_jid] = nil;
	end
	local current = room:get_affiliation(bare_jid);
	if current == affiliation or current == "outcast" then return; end
	granting = bare_jid;
	local ok, err, condition;
	if joining then
		ok, err, condition = grant_while_joining(room, bare_jid, affiliation);
	else
		ok, err, condition = room:set_affiliation(true, bare_jid, affiliation, "roomkey");
	end
	granting = nil;
	if not ok then
		module:log("warn", "could not make %s %s in %s: %s %s", bare_jid, affiliation, room.jid, tostring(err), tostring(condition));
	end
end

---------------------------------------------------------------------------
-- Private calls: the warning before the viewer's credit runs out

-- Sends the occupant's warning as a private message from the room, the json-message
-- stock Jitsi Meet shows as a system chat message.
local function send_warning(record)
	local room = get_room(record.room_jid);
	local to = record.session and record.session.full_jid;
	if not room or not to or not room:get_occupant_by_nick(record.nick) then return; end
	local body = json.encode({ type = "system_chat_message"; message = record.warning });
	room:route_stanza(st.message({ from = room.jid; to = to; type = "chat" })
		:tag("json-message", { xmlns = "http://jitsi.org/jitmeet" }):text(body):up());
	counters.warnings = counters.warnings + 1;
end

-- A timer at the record's `warn_at` (at once if it has passed), once per `warn_at`: a
-- top-up moves it later and arms it again; the same answer twice warns once.
local function schedule_warning(record)
	if record.warn_timer then record.warn_timer:stop(); record.warn_timer = nil; end
	local at = record.warn_at;
	if not at or record.warned_for == at then return; end
	record.warn_timer = module:add_timer(m_max(0, at - now()), function ()
		record.warn_timer = nil;
		if occupants[record.nick] == record and record.warn_at == at then
			record.warned_for = at;
			log_errors("warning", send_warning, record);
		end
	end);
end

-- Takes a verdict's warning onto an occupant's record and arms its timer.
local function track_warning(record, verdict)
	record.warn_at = verdict and verdict.allow and verdict.warn_at or nil;
	record.warning = verdict and verdict.warning or nil;
	schedule_warning(record);
end

-- A fresh verdict for an occupant already in the room.
local function apply_to_records(records, verdict)
	for _, record in ipairs(records) do
		if occupants[record.nick] == record then
			if record.session and not record.session.destroyed then
				cache_verdict(record.session, record.room_jid, verdict);
			end
			if not verdict.allow then
				module:log("info", "removing %s from %s: %s", record.user_id, record.room, verdict.code or "denied");
				remove_occupant(record, verdict.reason or "Access ended");
			else
				local room = get_room(record.room_jid);
				if room then set_affiliation(room, record.bare_jid, verdict.affiliation); end
				record.recheck_at = verdict.recheck_at;
				schedule_recheck(record);
				track_warning(record, verdict);
			end
		end
	end
end

-- Ask for fresh verdicts for these records (any number; batches of 500) and apply them.
-- An unanswered batch changes nothing: nobody leaves because roomkey is unreachable.
local function recheck_records(records)
	local groups, checks = {}, {};
	for _, record in ipairs(records) do
		local key = record.user_id.."\0"..record.room.."\0"..(record.jti or "");
		local group = groups[key];
		if not group then
			group = {};
			groups[key] = group;
			t_insert(checks, { user_id = record.user_id; room = record.room; jti = record.jti; records = group });
		end
		t_insert(group, record);
	end
	for first = 1, #checks, MAX_BATCH do
		local batch = {};
		for i = first, m_min(first + MAX_BATCH - 1, #checks) do t_insert(batch, checks[i]); end
		request_verdicts(batch, function (verdicts)
			if not verdicts then return; end
			for i, verdict in ipairs(verdicts) do
				apply_to_records(batch[i].records, verdict);
			end
		end);
	end
end

function schedule_recheck(record)
	if record.timer then record.timer:stop(); record.timer = nil; end
	local at = record.recheck_at;
	if not at then return; end
	-- Never sooner than a second from now, so a clock behind roomkey's cannot spin.
	local delay = m_max(1, at - now() + 0.05);
	record.timer = module:add_timer(delay, function ()
		record.timer = nil;
		if occupants[record.nick] == record then
			log_errors("recheck", recheck_records, { record });
		end
	end);
end

---------------------------------------------------------------------------
-- Joins

local held_since = setmetatable({}, { __mode = "k" }); -- held stanza -> monotonic start

local function deny(origin, stanza, room, verdict)
	counters.joins_denied = counters.joins_denied + 1;
	origin.send(st.error_reply(stanza, "cancel", "not-allowed", verdict.reason or "Not allowed in this room", room.jid));
	return true;
end

local function on_pre_join(event)
	local started = monotonic();
	local room, origin, stanza = event.room, event.origin, event.stanza;
	local from = stanza.attr.from;
	if is_exempt(from) then return; end

	local user_id, jti = identity_of(origin);
	if not user_id then
		module:log("info", "refusing %s in %s: no roomkey identity", tostring(from), room.jid);
		return deny(origin, stanza, room, { reason = "Sign in to join this room" });
	end
	local room_jid = room.jid;
	local room_node = room_node_of(room_jid);

	local verdict;
	local once = origin.roomkey_once;
	if once and once[stanza] then
		verdict = once[stanza];
		once[stanza] = nil;
	else
		verdict = cached_verdict(origin, room_jid, user_id, jti);
	end

	if verdict then
		local result;
		if not verdict.allow then
			result = deny(origin, stanza, room, verdict);
		elseif not admit_seat(room_jid, user_id, verdict) then
			result = deny_full(origin, stanza, room, verdict);
		else
			counters.joins_allowed = counters.joins_allowed + 1;
			event.roomkey_affiliation = verdict.affiliation; -- for on_pre_join_pin
			set_affiliation(room, jid_bare(from), verdict.affiliation, true);
			-- The occupant object was made before the affiliation changed.
			local occupant = event.occupant;
			if occupant and occupant.role then
				occupant.role = room:get_default_role(room:get_affiliation(from)) or occupant.role;
			end
		end
		local first = held_since[stanza];
		if first then
			held_since[stanza] = nil;
			add_sample(samples.prejoin_first, monotonic() - first);
		else
			add_sample(samples.prejoin_cached, monotonic() - started);
		end
		return result;
	end

	-- No answer yet: hold this presence, ask, and post it again when the answer is in.
	local held = origin.roomkey_held or 0;
	if held >= max_held_per_session then
		origin.send(st.error_reply(stanza, "wait", "resource-constraint", "Too many joins at once", room_jid));
		return true;
	end
	origin.roomkey_held = held + 1;
	counters.joins_held = counters.joins_held + 1;
	if inflight[user_id.."\0"..room_node.."\0"..(jti or "")] then
		-- asked already (the prefetch at token verification): the join waits for the rest
		-- of that round trip only
		counters.joins_held_prefetching = counters.joins_held_prefetching + 1;
	end
	held_since[stanza] = held_since[stanza] or started;
	fetch_verdict(user_id, room_node, jti, function (answer)
		origin.roomkey_held = m_max(0, (origin.roomkey_held or 1) - 1);
		if answer then
			cache_verdict(origin, room_jid, answer);
		else
			answer = failure_verdict(user_id, room_node);
			if answer.allow then
				counters.joins_failed_open = counters.joins_failed_open + 1;
			else
				counters.joins_failed_closed = counters.joins_failed_closed + 1;
			end
			origin.roomkey_once = origin.roomkey_once or setmetatable({}, { __mode = "k" });
			origin.roomkey_once[stanza] = answer;
		end
		if not session_alive(origin, from) then
			held_since[stanza] = nil;
			return;
		end
		-- Through the router, so a room destroyed or created meanwhile is handled by mod_muc.
		core_post_stanza(origin, stanza);
	end);
	return true;
end

-- Later in the same pre-join (after jitsi's token_affiliation at -3.5, before the lobby
-- at -4): make the affiliation the verdict's again, in case a hook in between changed it.
local function on_pre_join_pin(event)
	local affiliation = event.roomkey_affiliation;
	if not affiliation then return; end
	local room, from = event.room, event.stanza.attr.from;
	set_affiliation(room, jid_bare(from), affiliation, true);
	local occupant = event.occupant;
	if occupant and occupant.role then
		occupant.role = room:get_default_role(room:get_affiliation(from)) or occupant.role;
	end
end

local function on_joined(event)
	local room, occupant, origin = event.room, event.occupant, event.origin;
	local real_jid = event.stanza and event.stanza.attr.from;
	if not occupant or is_exempt(real_jid) then return; end
	local user_id, jti = identity_of(origin);
	if not user_id then return; end
	local room_jid = room.jid;
	local verdict = origin.roomkey_verdicts and origin.roomkey_verdicts[room_jid];
	local record = {
		id = new_uuid();
		user_id = user_id;
		jti = jti;
		room_jid = room_jid;
		room = room_node_of(room_jid);
		nick = occupant.nick;
		bare_jid = occupant.bare_jid;
		session = origin;
		recheck_at = verdict and verdict.recheck_at or nil;
	};
	-- Pin the verdict's affiliation: a later pre-join hook (jitsi's token_affiliation at
	-- -3.5, for one) may have changed what this module set.
	if verdict and verdict.allow and verdict.affiliation then
		set_affiliation(room, occupant.bare_jid, verdict.affiliation);
	end
	local previous = occupants[record.nick];
	if previous then untrack(previous); end
	record.seated = seat_joined(room_jid, user_id);
	occupants[record.nick] = record;
	local set = occupants_by_user[user_id];
	if not set then
		set = {};
		occupants_by_user[user_id] = set;
	end
	set[record] = true;
	rooms_seen[room_jid] = true;
	schedule_recheck(record);
	track_warning(record, verdict);
	enqueue_event({
		type = "joined"; room = record.room; user_id = user_id;
		occupant = record.id; nick = jid_resource(occupant.nick); at = now();
	});
end

local function on_left(event)
	local nick = event.nick or (event.occupant and event.occupant.nick);
	local record = nick and occupants[nick];
	if not record then return; end
	untrack(record);
	enqueue_event({
		type = "left"; room = record.room; user_id = record.user_id;
		occupant = record.id; at = now();
	});
end

local function on_destroyed(event)
	local room = event.room;
	if not room then return; end
	owners[room.jid] = nil;
	if not rooms_seen[room.jid] then return; end
	rooms_seen[room.jid] = nil;
	for _, record in pairs(occupants) do
		if record.room_jid == room.jid then untrack(record); end
	end
	enqueue_event({ type = "room_destroyed"; room = room_node_of(room.jid); at = now() });
end

-- A nick change would move a tracked occupant out of sight (mod_muc reports it as a
-- leave without a join). Jitsi never changes MUC nicks, so checked users may not.
local function on_pre_change(event)
	local orig, dest = event.orig_occupant, event.dest_occupant;
	if not orig or not dest or orig.nick == dest.nick or not occupants[orig.nick] then return; end
	event.origin.send(st.error_reply(event.stanza, "cancel", "not-acceptable", "Nickname changes are not supported here", event.room.jid));
	return true;
end

local function on_pre_set_affiliation(event)
	if event.affiliation ~= "owner" or granting == event.jid then return; end
	local room_owners = owners[event.room.jid];
	if (room_owners and room_owners[event.jid]) or is_exempt(event.jid) then return; end
	module:log("info", "refusing owner for %s in %s: only roomkey makes owners", event.jid, event.room.jid);
	event.allowed = false;
end

module:hook("muc-occupant-pre-join", function (event)
	local ok, result = xpcall(on_pre_join, debug.traceback, event);
	if ok then return result; end
	-- A bug here must not let anyone in.
	module:log("error", "pre-join check failed: %s", result);
	pcall(event.origin.send, st.error_reply(event.stanza, "wait", "internal-server-error", nil, event.room.jid));
	return true;
end, prejoin_priority);
module:hook("muc-occupant-pre-join", function (event) log_errors("pre-join pin", on_pre_join_pin, event); end, -3.75);
module:hook("muc-occupant-joined", function (event) log_errors("joined", on_joined, event); end, -100);
-- Before mod_muc's own handler (-1), which destroys a room its last occupant left.
module:hook("muc-occupant-left", function (event) log_errors("left", on_left, event); end, 1);
module:hook("muc-room-destroyed", function (event) log_errors("destroyed", on_destroyed, event); end, -100);
module:hook("muc-occupant-pre-change", on_pre_change, prejoin_priority);
if guard_owner then
	module:hook("muc-pre-set-affiliation", on_pre_set_affiliation, 100);
end

---------------------------------------------------------------------------
-- Jitsi token auth: learn the token id and ask before the join arrives

local function prefetch(session)
	if type(session) ~= "table" or session.roomkey_prefetched then return; end
	local user_id, jti = identity_of(session);
	local room = session.jitsi_meet_room;
	if not user_id or type(room) ~= "string" then return; end
	room = room:lower();
	if not is_room_node(room) or room == "*" then return; end
	local ctx_room = session.jitsi_meet_context_room;
	if type(ctx_room) == "table" and (ctx_room.regex == true or ctx_room.regex == "true") then return; end
	session.roomkey_prefetched = true;
	local room_jid = room.."@"..module.host;
	fetch_verdict(user_id, room, jti, function (verdict)
		if verdict and not session.destroyed then
			cache_verdict(session, room_jid, verdict);
		end
	end);
end

if identity_mode == "jitsi_token" then
	-- Fired by jitsi's token/util.lib.lua after the signature and claims passed.
	module:hook_global("jitsi-authentication-token-verified", function (event)
		local session, claims = event.session, event.claims;
		if type(session) ~= "table" then return; end
		local jti = type(claims) == "table" and opt_string(claims.jti) or nil;
		if session.roomkey_jti ~= jti then
			session.roomkey_jti = jti;
			session.roomkey_prefetched = nil; -- a new token (e.g. a resumed session)
		end
		log_errors("prefetch", prefetch, session);
	end);
	-- Fired by mod_auth_token once the session's username is chosen.
	module:hook_global("post-jitsi-authentication", function (session)
		log_errors("prefetch", prefetch, session);
	end);
end

---------------------------------------------------------------------------
-- Attendance events: bounded queue, batches, bounded retries, never blocking

local queue, queue_first, queue_last = {}, 1, 0;
local batch, batch_body, batch_attempts, batch_next_try = nil, nil, 0, 0;
local sending = false;

function enqueue_event(ev)
	ev.id = new_uuid();
	if queue_last - queue_first + 1 >= queue_size then
		queue[queue_first] = nil;
		queue_first = queue_first + 1;
		counters.events_dropped = counters.events_dropped + 1;
	end
	queue_last = queue_last + 1;
	queue[queue_last] = ev;
	counters.events_queued = counters.events_queued + 1;
end

local function give_up_batch(why)
	counters.events_dropped = counters.events_dropped + #batch;
	module:log("warn", "dropping %d attendance events: %s", #batch, why);
	batch, batch_body, batch_attempts = nil, nil, 0;
end

local function flush_events()
	if sending or now() < batch_next_try then return; end
	if not batch then
		if queue_last < queue_first then return; end
		batch = {};
		while #batch < batch_size and queue_first <= queue_last do
			t_insert(batch, queue[queue_first]);
			queue[queue_first] = nil;
			queue_first = queue_first + 1;
		end
		batch_body = json.encode({ shard = shard; events = batch });
		batch_attempts = 0;
	end
	sending = true;
	post("events", "/api/prosody/events", batch_body, function (code)
		sending = false;
		if code >= 200 and code < 300 then
			counters.events_sent = counters.events_sent + #batch;
			batch, batch_body, batch_attempts, batch_next_try = nil, nil, 0, 0;
			if queue_last >= queue_first then module:add_timer(0, flush_events); end
			return;
		end
		counters.event_batches_failed = counters.event_batches_failed + 1;
		if code >= 400 and code < 500 and code ~= 408 and code ~= 429 then
			return give_up_batch("HTTP "..code);
		end
		batch_attempts = batch_attempts + 1;
		if batch_attempts >= retry_limit then
			return give_up_batch("no answer after "..batch_attempts.." attempts");
		end
		batch_next_try = now() + m_min(max_backoff, 2 ^ (batch_attempts - 1));
	end);
end

module:add_timer(flush_interval, function ()
	log_errors("event flush", flush_events);
	return flush_interval;
end);

---------------------------------------------------------------------------
-- Periodic reconcile: every occupant, in batches

module:add_timer(reconcile_interval, function ()
	local records = {};
	for _, record in pairs(occupants) do t_insert(records, record); end
	if #records > 0 then
		counters.reconciles = counters.reconciles + 1;
		log_errors("reconcile", recheck_records, records);
	end
	log_errors("seat sweep", sweep_seats);
	return reconcile_interval;
end);

---------------------------------------------------------------------------
-- Commands from roomkey: POST <path>/commands

local seen_commands, seen_order = {}, {};

local function remember_command(id)
	local t = now();
	seen_commands[id] = t + COMMAND_MEMORY;
	t_insert(seen_order, id);
	-- expire from the front (insertion order is expiry order)
	while seen_order[1] and (seen_commands[seen_order[1]] or 0) <= t or #seen_order > 100000 do
		seen_commands[t_remove(seen_order, 1)] = nil;
	end
end

local function verify_request(headers, kind, body)
	-- net.http.server names request headers in lowercase with "_" for "-"
	local timestamp = headers.x_roomkey_timestamp or headers["x-roomkey-timestamp"];
	local signature = headers.x_roomkey_signature or headers["x-roomkey-signature"];
	if type(timestamp) ~= "string" or type(signature) ~= "string" then return false; end
	if not timestamp:match("^%d+$") or #timestamp > 12 then return false; end
	local ts = tonumber(timestamp);
	if not ts or math.abs(os_time() - ts) > SIGNATURE_WINDOW then return false; end
	return equals(sign(kind, timestamp, body), signature);
end

local function json_reply(status, value)
	return {
		status_code = status;
		headers = { content_type = "application/json" };
		body = json.encode(value);
	};
end

local function kick_command(cmd)
	local room_jid = cmd.room.."@"..module.host;
	local room = get_room(room_jid);
	if not room then return 0; end
	local affected = 0;
	local set = occupants_by_user[cmd.user_id];
	if set then
		local records = {};
		for record in pairs(set) do
			if record.room_jid == room_jid then t_insert(records, record); end
		end
		for _, record in ipairs(records) do
			if remove_occupant(record, cmd.reason or "Removed from the room") then affected = affected + 1; end
		end
	end
	return affected;
end

local function revalidate_command(cmd)
	forget_user(cmd.user_id);
	local records = {};
	for record in pairs(occupants_by_user[cmd.user_id] or {}) do t_insert(records, record); end
	if #records > 0 then recheck_records(records); end
	return 0;
end

local function end_room_command(cmd)
	local room = get_room(cmd.room.."@"..module.host);
	if not room then return 0; end
	room:destroy(nil, cmd.reason or "The room has ended");
	return 1;
end

---------------------------------------------------------------------------
-- Announcements (`announce`): a line every occupant's Jitsi Meet shows in its chat panel,
-- e.g. a confirmed tip. Stock Jitsi Meet shows a <message> from the room's own JID that
-- carries <json-message xmlns='http://jitsi.org/jitmeet'> with
-- {"type":"system_chat_message","message":...,"displayName":...} (what jitsi-meet's
-- mod_system_chat_message sends); it is sent to each occupant's session, never stored in
-- the room's history (a late joiner does not see old tips).

local JITMEET_NS = "http://jitsi.org/jitmeet";
local ANNOUNCE_MAX_BYTES = 2000; -- roomkey sends far less; anything longer is refused

local function announce_payload(cmd)
	local name = cmd.display_name;
	return json.encode({
		type = "system_chat_message";
		message = cmd.message;
		displayName = is_nonempty_string(name) and name or nil;
	});
end

local function announce_command(cmd)
	local room = get_room(cmd.room.."@"..module.host);
	if not room then return 0; end
	local payload = announce_payload(cmd);
	local sent = 0;
	for _, occupant in room:each_occupant() do
		for real_jid in occupant:each_session() do
			room:route_stanza(st.message({ from = room.jid; to = real_jid; id = new_uuid() })
				:tag("json-message", { xmlns = JITMEET_NS }):text(payload):up());
			sent = sent + 1;
		end
	end
	return sent;
end

local function is_announcement(value)
	return is_nonempty_string(value) and #value <= ANNOUNCE_MAX_BYTES;
end

local commands = {
	kick = { needs_room = true; needs_user = true; run = kick_command };
	revalidate = { needs_user = true; run = revalidate_command };
	end_room = { needs_room = true; run = end_room_command };
	announce = { needs_room = true; needs_message = true; run = announce_command };
};

local function handle_command(event)
	local request = event.request;
	local body = request.body or "";
	if not verify_request(request.headers or {}, "command", body) then
		counters.commands_rejected = counters.commands_rejected + 1;
		return json_reply(401, { error = "bad_signature" });
	end
	local cmd = decode_object(body);
	local spec = cmd and commands[cmd.type];
	if not spec or not is_nonempty_string(cmd.id)
		or (spec.needs_room and not is_room_node(cmd.room))
		or (spec.needs_user and not is_nonempty_string(cmd.user_id))
		or (spec.needs_message and not is_announcement(cmd.message))
		or (cmd.display_name ~= nil and cmd.display_name ~= json_null and type(cmd.display_name) ~= "string")
		or (cmd.reason ~= nil and cmd.reason ~= json_null and type(cmd.reason) ~= "string") then
		return json_reply(400, { error = "bad_request" });
	end
	if type(cmd.reason) ~= "string" or cmd.reason == "" then cmd.reason = nil; end
	local expiry = seen_commands[cmd.id];
	if expiry and expiry > now() then
		counters.commands_replayed = counters.commands_replayed + 1;
		return json_reply(200, { ok = true; affected = 0 });
	end
	counters.commands = counters.commands + 1;
	local ok, affected = xpcall(spec.run, debug.traceback, cmd);
	if not ok then
		module:log("error", "command %s failed: %s", cmd.type, affected);
		return json_reply(500, { error = "internal" });
	end
	remember_command(cmd.id);
	module:log("info", "command %s %s: %d affected", cmd.type, cmd.id, affected);
	return json_reply(200, { ok = true; affected = affected });
end

local function handle_stats()
	local occupant_count = 0;
	for _ in pairs(occupants) do occupant_count = occupant_count + 1; end
	local out = {
		shard = shard;
		identity = identity_mode;
		fail_mode = fail_mode;
		occupants = occupant_count;
		events_pending = m_max(0, queue_last - queue_first + 1) + (batch and #batch or 0);
		prejoin_cached = summarize(samples.prejoin_cached);
		prejoin_first = summarize(samples.prejoin_first);
	};
	for k, v in pairs(counters) do out[k] = v; end
	return json_reply(200, out);
end

local routes = { ["POST /commands"] = handle_command };
if expose_stats then routes["GET /stats"] = handle_stats; end

module:depends("http");
module:provides("http", { default_path = "roomkey"; route = routes });

module:log("info", "roomkey at %s, identity %s, fail mode %s, shard %s", roomkey_url, identity_mode, fail_mode, shard);

