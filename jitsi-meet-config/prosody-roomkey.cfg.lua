-- roomkey + stock jitsi-meet: the complete Prosody config for one shard, with roomkey's
-- tokens (HS256 here; see prosody-rs256.cfg.lua for the key-server variant) and
-- mod_roomkey enforcing roomkey's verdicts live (prosody-plugins/README.md).
--
-- This replaces the host file the jitsi-meet-prosody package writes
-- (/etc/prosody/conf.avail/<domain>.cfg.lua on Debian; the main prosody.cfg.lua keeps
-- its own global settings: pidfile, log, data_path, ...). Replace meet.example.com
-- with your XMPP domain, and every CHANGE-ME.
--
-- Prosody 0.12 with lua5.4: jitsi's token plugins need basexx and inspect for Lua 5.4
-- (prosody-plugins/README.md, "Install").

plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }
muc_mapper_domain_base = "meet.example.com"
admins = { "focus@auth.meet.example.com" }
component_admins_as_room_owners = true

-- BOSH and WebSocket are served on mod_http's port; nginx proxies /http-bind and
-- /xmpp-websocket to it. roomkey reaches mod_roomkey on the same port, on an internal
-- interface: do not expose 5280 publicly.
http_ports = { 5280 }
http_interfaces = { "127.0.0.1"; "10.0.0.5" } -- CHANGE-ME: loopback for nginx, an address roomkey can reach
https_ports = { }
http_default_host = "meet.example.com"
consider_bosh_secure = true
consider_websocket_secure = true
cross_domain_bosh = false

-- Lua's generational collector: with Prosody's default (incremental) collector, a GC step
-- of a few ms lands inside ~2% of room joins (bench/README.md, kick_latency).
gc = { mode = "generational" }

-- Stream resumption (XEP-0198) for WebSocket clients: a dropped socket resumes the same
-- session within this many seconds, and its MUC occupant never leaves.
smacks_max_unacked_stanzas = 5
smacks_hibernation_time = 60
smacks_max_old_sessions = 1

VirtualHost "meet.example.com"
    authentication = "token"
    app_id = "roomkey" -- roomkey's jitsi.app_id: the token's `iss`
    app_secret = "CHANGE-ME-same-value-as-roomkey-hs256-secret"
    signature_algorithm = "HS256"
    asap_accepted_issuers = { "roomkey" }
    asap_accepted_audiences = { "jitsi" }
    enable_domain_verification = true -- `sub` must be this XMPP domain
    allow_empty_token = false -- every participant needs a token
    ssl = {
        key = "/etc/prosody/certs/meet.example.com.key";
        certificate = "/etc/prosody/certs/meet.example.com.crt";
    }
    modules_enabled = {
        "bosh";
        "websocket";
        "smacks";
        "ping";
        "features_identity";
        "conference_duration";
        "muc_lobby_rooms";
    }
    c2s_require_encryption = false
    lobby_muc = "lobby.meet.example.com"
    main_muc = "conference.meet.example.com"

Component "conference.meet.example.com" "muc"
    restrict_room_creation = true
    storage = "memory"
    muc_room_locking = false
    muc_room_default_public_jids = true
    modules_enabled = {
        "muc_hide_all";
        "muc_meeting_id";
        "muc_domain_mapper";
        "muc_rate_limit";
        "muc_password_whitelist";
        "token_verification"; -- a token only opens its own `room` (pre-join, priority 99)
        -- not "token_affiliation": mod_roomkey sets owner/member from roomkey's verdict
        "roomkey"; -- roomkey's verdicts, live (pre-join, priority 20)
    }
    muc_password_whitelist = { "focus@auth.meet.example.com" }
    -- mod_muc_wait_for_host (if loaded) would make every token holder an owner.
    wait_for_host_disable_auto_owners = true

    -- mod_roomkey (prosody-plugins/README.md lists every option and its default)
    -- Serve /roomkey on http_default_host, so roomkey's shard URL can name this
    -- machine by address: http://10.0.0.5:5280/roomkey
    http_host = "meet.example.com"
    roomkey_url = "http://roomkey.internal:8080" -- CHANGE-ME
    roomkey_secret = "CHANGE-ME-same-value-as-roomkey-prosody-secret-32-chars-or-more"
    roomkey_shard = "prosody-1" -- CHANGE-ME: this shard's name in roomkey's logs
    roomkey_identity = "jitsi_token" -- context.user.id from the token
    roomkey_fail_mode = "closed_for_paid" -- roomkey unreachable: paid rooms refuse new joins
    roomkey_reconcile_interval = 60
    roomkey_request_timeout = 5
    roomkey_exempt = { "auth.meet.example.com"; "recorder.meet.example.com" }

-- Breakout rooms are left out on purpose: they are separate rooms roomkey does not know,
-- so a user removed from the show could stay in one. Do not load muc_breakout_rooms.

Component "internal.auth.meet.example.com" "muc"
    storage = "memory"
    modules_enabled = { "muc_hide_all"; "ping"; }
    admins = { "focus@auth.meet.example.com"; "jvb@auth.meet.example.com" }
    muc_room_locking = false
    muc_room_default_public_jids = true

-- Jicofo, Jigasi and the videobridge log in here; exempt from mod_roomkey.
VirtualHost "auth.meet.example.com"
    authentication = "internal_hashed"
    modules_enabled = { "limits_exception"; "smacks"; }
    smacks_hibernation_time = 15

-- Jibri logs in here; exempt from mod_roomkey.
VirtualHost "recorder.meet.example.com"
    authentication = "internal_hashed"
    modules_enabled = { "smacks"; }
    smacks_max_old_sessions = 2000

Component "focus.meet.example.com" "client_proxy"
    target_address = "focus@auth.meet.example.com"

Component "lobby.meet.example.com" "muc"
    storage = "memory"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    modules_enabled = { "muc_hide_all"; "muc_rate_limit"; }

Component "speakerstats.meet.example.com" "speakerstats_component"
    muc_component = "conference.meet.example.com"

Component "endconference.meet.example.com" "end_conference"
    muc_component = "conference.meet.example.com"

Component "avmoderation.meet.example.com" "av_moderation_component"
    muc_component = "conference.meet.example.com"
