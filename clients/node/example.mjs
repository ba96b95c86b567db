// @ts-check
// One flow through the typed client: an admin creates a performer and a free room, a viewer
// signs up, and the platform backend (its service key, acting for the viewer) and the
// viewer's own session each get a Jitsi token for the room.
//
//   ROOMKEY_URL=http://127.0.0.1:8080 ROOMKEY_ADMIN_KEY=… ROOMKEY_SERVICE_KEY=… node example.mjs
//
// Prints the token's room and expiry; fails (exit code 1) on any answer other than the
// one expected, with roomkey's error envelope.

import { roomkey } from "./client.mjs";

const baseUrl = process.env.ROOMKEY_URL ?? "http://127.0.0.1:8080";
const adminKey = need("ROOMKEY_ADMIN_KEY");
const serviceKey = need("ROOMKEY_SERVICE_KEY");
const suffix = Date.now().toString(36);

const admin = roomkey(baseUrl, { bearer: adminKey });
const anyone = roomkey(baseUrl);

const performer = expect(
  await admin.POST("/api/admin/users", {
    body: { handle: `perf${suffix}`, email: `perf${suffix}@example.com`, role: "performer" },
  }),
  "create the performer",
);
const room = expect(
  await admin.POST("/api/admin/rooms", {
    body: { name: `free${suffix}`, title: "Open rehearsal", owner_id: performer.id, access: "free" },
  }),
  "create the room",
);
const signedUp = expect(
  await anyone.POST("/api/auth/register", {
    body: {
      handle: `viewer${suffix}`,
      email: `viewer${suffix}@example.com`,
      password: "correct horse battery",
    },
  }),
  "sign up",
);

const platform = roomkey(baseUrl, { bearer: serviceKey, user: signedUp.user.id });
const viewer = roomkey(baseUrl, { bearer: signedUp.session_token });
for (const [who, client] of /** @type {const} */ ([["platform", platform], ["viewer", viewer]])) {
  const token = expect(
    await client.POST("/api/rooms/{room}/token", { params: { path: { room: room.name } } }),
    `a token through the ${who}`,
  );
  if (token.room !== room.name || token.jwt.split(".").length !== 3) {
    throw new Error(`unexpected token: ${JSON.stringify(token)}`);
  }
  console.log(`${who}: a token for ${token.room} until ${token.expires_at}`);
}

/**
 * The answer's body when roomkey said yes; otherwise stops with its error envelope.
 *
 * @template T
 * @param {{ data?: T, error?: unknown, response: Response }} answer
 * @param {string} what
 * @returns {T}
 */
function expect(answer, what) {
  if (answer.data === undefined) {
    throw new Error(`${what}: ${answer.response.status} ${JSON.stringify(answer.error)}`);
  }
  return answer.data;
}

/** @param {string} name */
function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
