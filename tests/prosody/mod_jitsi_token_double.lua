-- Test double for jitsi-meet's token authentication events, for a VirtualHost that
-- authenticates with Prosody's own auth (internal_plain) in the automated tests.
--
-- jitsi's mod_auth_token copies `?token=` from the BOSH/WebSocket URL to
-- session.auth_token; token/util.lib.lua verifies it, sets the session fields below and
-- fires the global `jitsi-authentication-token-verified` event with {session=, claims=};
-- mod_auth_token then fires `post-jitsi-authentication` with the session. This module
-- does the same with an *unverified* JWT-shaped token (any signature): the tests only
-- need the same session fields and event payloads, not the cryptography, which the
-- real plugins cover in verify_tokens.py.

local json = require "util.json";
local base64 = require "util.encodings".base64;
local formdecode = require "util.http".formdecode;

local function url64_decode(s)
	s = s:gsub("-", "+"):gsub("_", "/");
	s = s..string.rep("=", (4 - #s % 4) % 4);
	return base64.decode(s);
end

local function claims_of(token)
	local payload = type(token) == "string" and token:match("^[%w_-]+%.([%w_-]+)%.[%w_-]*$");
	if not payload then return nil; end
	local ok, claims = pcall(json.decode, url64_decode(payload) or "");
	if ok and type(claims) == "table" then return claims; end
	return nil;
end

-- As mod_auth_token's init_session: the token from the connection URL.
local function init_session(event)
	local session, request = event.session, event.request;
	local query = request and request.url and request.url.query;
	local params = query and formdecode(query);
	if type(params) == "table" and params.token then
		session.auth_token = params.token;
	end
end
module:hook_global("bosh-session", init_session);
module:hook_global("websocket-session", init_session);

module:hook("authentication-success", function (event)
	local session = event.session;
	if session.host ~= module.host then return; end
	local claims = claims_of(session.auth_token);
	if not claims then return; end
	-- The fields token/util.lib.lua sets before firing the event.
	session.jitsi_meet_room = claims.room;
	session.jitsi_meet_domain = claims.sub;
	session.jitsi_meet_auth_issuer = claims.iss;
	local context = claims.context;
	if type(context) == "table" then
		session.jitsi_meet_str_tenant = context.tenant;
		session.jitsi_meet_context_user = context.user;
		session.jitsi_meet_context_group = context.group;
		session.jitsi_meet_context_features = context.features;
		session.jitsi_meet_context_room = context.room;
	elseif claims.user_id then
		session.jitsi_meet_context_user = { id = claims.user_id };
	end
	prosody.events.fire_event("jitsi-authentication-token-verified", { session = session; claims = claims });
	prosody.events.fire_event("post-jitsi-authentication", session);
end, 10);
