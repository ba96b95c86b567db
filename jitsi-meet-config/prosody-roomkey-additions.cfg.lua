-- roomkey + stock jitsi-meet: what to ADD to the host file the jitsi-meet-prosody package
-- writes, /etc/prosody/conf.avail/<domain>.cfg.lua, for one Prosody shard with roomkey's
-- tokens (HS256 here; prosody-rs256.cfg.lua has the key-server lines) and mod_roomkey
-- enforcing roomkey's verdicts live (prosody-plugins/README.md).
--
-- Keep that file: it carries what the rest of Jitsi needs and this snippet does not repeat
-- (external_services and external_service_secret for STUN/TURN, unlimited_jids, the TLS
-- settings, smacks, the focus and JVB accounts, the speakerstats, end-conference,
-- av-moderation, file-sharing, metadata and polls components, ...). Replacing it with a
-- shorter file drops TURN, and clients behind strict NATs then get no media.
--
-- This is not a file to Include: each block below starts with a "-- @@" line saying where
-- its lines go. "set" means: in that section, change the line that sets the option if
-- there is one (`authentication = "jitsi-anonymous"` becomes "token"), else add the line
-- at the end of the section (for the global section: before the first VirtualHost).
-- "add to modules_enabled" means inside that section's existing list; "remove from
-- modules_enabled" means delete the entry there. tests/prosody/check_additions.py applies
-- the blocks to jitsi-meet's own template exactly this way and boots Prosody on the result.
--
-- Replace meet.example.com with your XMPP domain (the one in the file's name) and every
-- CHANGE-ME. Prosody 0.12 with lua5.4: jitsi's token plugins need basexx and inspect for
-- Lua 5.4 (prosody-plugins/README.md, "Install").

-- @@ global section: set (before the first VirtualHost)
-- BOSH and WebSocket are served on mod_http's port; nginx proxies /http-bind and
-- /xmpp-websocket to it. roomkey reaches mod_roomkey on the same port, on an internal
-- interface: do not expose 5280 publicly.
http_ports = { 5280 }
http_interfaces = { "127.0.0.1"; "10.0.0.5" } -- CHANGE-ME: loopback for nginx, an address roomkey can reach
http_default_host = "meet.example.com"
-- Lua's generational collector: with Prosody's default (incremental) collector, a GC step
-- of a few ms lands inside ~2% of room joins (bench/README.md, kick_latency).
gc = { mode = "generational" }
-- Nagle's algorithm: no setting. A kick did not reach WebSocket clients later than BOSH
-- clients with Prosody's default (kick p99 5.6-6.8 ms WebSocket, 3.3-5.7 ms BOSH, 2.7-4.4
-- ms WebSocket with Nagle off; bench/README.md, "WebSocket, BOSH and Nagle's algorithm").
-- Prosody 0.12's option, should you want it, is network_settings = { nagle = false }
-- (not tcp_nodelay); merge it into an existing network_settings table.

-- @@ VirtualHost "meet.example.com": set
-- What the jitsi-meet-tokens package would set, pinned to roomkey's tokens.
authentication = "token"
app_id = "roomkey" -- roomkey's jitsi.app_id: the token's `iss`
app_secret = "CHANGE-ME-same-value-as-roomkey-hs256-secret"
signature_algorithm = "HS256"
asap_accepted_issuers = { "roomkey" }
asap_accepted_audiences = { "jitsi" }
enable_domain_verification = true -- `sub` must be this XMPP domain
allow_empty_token = false -- every participant needs a token

-- @@ VirtualHost "meet.example.com": remove from modules_enabled
-- Breakout rooms are separate rooms roomkey does not know: a user removed from the show
-- could stay in one. (Also hide them in the web client: hideAddRoomButton in config.js.)
"muc_breakout_rooms";

-- @@ Component "conference.meet.example.com" "muc": add to modules_enabled
"token_verification"; -- a token only opens its own `room` (pre-join, priority 99)
"roomkey"; -- roomkey's verdicts, live (pre-join, priority 20)
-- Not "token_affiliation": mod_roomkey makes each occupant owner or member from roomkey's
-- verdict and refuses every other owner grant. token_affiliation would decide again from
-- the token's claims, frozen when the token was issued (hours earlier for a show-long
-- token): its owner grants are refused (a log line per join), and its demotions to member
-- go through and are undone at once by mod_roomkey, each a pair of muc-set-affiliation
-- events other Jitsi modules react to. It adds nothing mod_roomkey does not decide.
-- Remove "muc_allowners" if it is there: it makes everyone an owner.

-- @@ Component "conference.meet.example.com" "muc": set
-- mod_muc_wait_for_host (if loaded) would make every token holder an owner.
wait_for_host_disable_auto_owners = true
-- mod_roomkey (prosody-plugins/README.md lists every option and its default). Serve
-- /roomkey on http_default_host, so roomkey's shard URL can name this machine by address:
-- http://10.0.0.5:5280/roomkey
http_host = "meet.example.com"
roomkey_url = "http://roomkey.internal:8080" -- CHANGE-ME
roomkey_secret = "CHANGE-ME-same-value-as-roomkey-prosody-secret-32-chars-or-more"
roomkey_shard = "prosody-1" -- CHANGE-ME: this shard's name in roomkey's logs
roomkey_identity = "jitsi_token" -- context.user.id from the token
roomkey_fail_mode = "closed_for_paid" -- roomkey unreachable: paid rooms refuse new joins
