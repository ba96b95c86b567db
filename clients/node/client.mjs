// @ts-check
// A typed client for roomkey: `openapi-fetch` over the types `openapi-typescript` generates
// from docs/openapi.json (schema.d.ts). Paths, parameters, bodies and answers are checked
// by TypeScript (`npm run check`), here and in whatever imports this module.

import createClient from "openapi-fetch";

/** @typedef {import("./schema.js").paths} Paths */
/** @typedef {import("./schema.js").components["schemas"]} Schemas */
/** @typedef {import("openapi-fetch").Client<Paths>} Roomkey */

/**
 * A client that sends `bearer` (a session token, a service key or an admin key) and, for a
 * service key acting for a user, that user's id in `X-Roomkey-User`.
 *
 * @param {string} baseUrl e.g. `http://127.0.0.1:8080`
 * @param {{ bearer?: string, user?: string }} [credentials]
 * @returns {Roomkey}
 */
export function roomkey(baseUrl, credentials = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (credentials.bearer) headers.authorization = `Bearer ${credentials.bearer}`;
  if (credentials.user) headers["x-roomkey-user"] = credentials.user;
  return createClient({ baseUrl, headers });
}
