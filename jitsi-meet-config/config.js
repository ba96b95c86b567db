// roomkey + stock jitsi-meet: the lines to set in the web client's config,
// /etc/jitsi/meet/meet.example.com-config.js on Debian (docker: TOKEN_AUTH_URL,
// ENABLE_GUESTS=0). An excerpt, not a complete config.js: change these keys and
// leave the rest of the stock file as it is.
var config = {
    hosts: {
        // The XMPP domain: also what roomkey must put in the token's `sub`.
        domain: 'meet.example.com',

        // anonymousdomain: leave unset. When it is set, a visitor without a
        // token joins as an anonymous guest instead of being sent to roomkey.

        muc: 'conference.meet.example.com',
    },

    // Where the client sends someone who has no token, or whose token has
    // expired. jitsi-meet replaces {room} with the room name as it appears in
    // the address bar: not lowercased and not percent-encoded, so roomkey
    // normalises it the way the client does for the XMPP room
    // (getBackendSafeRoomName: decode, NFKC, lowercase, encodeURIComponent,
    // lowercase). Other placeholders: {state} (JSON: room, roomSafe, tenant,
    // config overrides) and {code_challenge} (PKCE, web only); roomkey's join
    // page needs neither. It sends the visitor back to
    // https://meet.example.com/<room>#jwt=%22<token>%22 (docs/join-page.md).
    tokenAuthUrl: 'https://roomkey.example.com/join/{room}',
};
