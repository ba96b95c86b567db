-- roomkey + stock jitsi-meet, HS256 (shared secret) mode.
--
-- These are the token-related lines of the Prosody host config that the
-- jitsi-meet-prosody package writes (/etc/prosody/conf.avail/<domain>.cfg.lua
-- on Debian). Merge them into the existing VirtualHost and Component blocks:
-- do not Include this file next to them, because a repeated option replaces
-- the earlier one (modules_enabled would lose the stock modules).
-- Replace meet.example.com with your XMPP domain (docker: meet.jitsi).
--
-- Lines the stock file already has in its global section (keep them):
--   plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }
--   muc_mapper_domain_base = "meet.example.com"
--
-- Checked with a real Prosody 0.12.3 and jitsi-meet's plugins:
--   tests/prosody/verify_tokens.py --deployment-config jitsi-meet-config/prosody-hs256.cfg.lua

VirtualHost "meet.example.com"
    authentication = "token"
    -- Must equal roomkey's app id: it is the token's `iss` and the default
    -- issuer allow-list. Required even though the secret does the checking.
    app_id = "roomkey"
    -- The same secret roomkey signs with (at least 32 random bytes). Anyone
    -- holding it can mint tokens: prefer prosody-rs256.cfg.lua where possible.
    app_secret = "CHANGE-ME-same-value-as-roomkey-hs256-secret"
    signature_algorithm = "HS256"
    asap_accepted_issuers = { "roomkey" }
    -- The stock default accepts any `aud`; roomkey always sends "jitsi".
    asap_accepted_audiences = { "jitsi" }
    -- `sub` must be this XMPP domain (the MUC is conference.<sub>).
    enable_domain_verification = true
    -- Every participant needs a token; no anonymous fallback on this host.
    allow_empty_token = false

Component "conference.meet.example.com" "muc"
    -- Stock values, shown so the block is complete.
    storage = "memory"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public_jids = true
    modules_enabled = {
        -- Keep the stock modules here (muc_hide_all, muc_meeting_id,
        -- muc_domain_mapper, muc_rate_limit, muc_password_whitelist, ...)
        -- and add these two:
        "token_verification"; -- a token only opens its own `room`
        "token_affiliation"; -- owner/moderator only when the token says so
    }
    -- mod_muc_wait_for_host (if loaded) otherwise makes every token holder
    -- an owner, overriding token_affiliation. Harmless when it is not loaded.
    wait_for_host_disable_auto_owners = true
