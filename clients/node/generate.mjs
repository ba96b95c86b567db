// Writes schema.d.ts (or the file named by the first argument) from docs/openapi.json with
// openapi-typescript. Fields with a default stay optional in request bodies
// (`defaultNonNullable: false`): roomkey fills them in.
//
//   node generate.mjs            regenerate schema.d.ts after docs/openapi.json changed
//   node generate.mjs OUT.d.ts   write elsewhere (the up-to-date check in tests/cli.rs)

import { writeFile } from "node:fs/promises";
import openapiTS, { astToString } from "openapi-typescript";

const spec = new URL("../../docs/openapi.json", import.meta.url);
const out = process.argv[2] ?? new URL("schema.d.ts", import.meta.url);
const header = "// Generated from docs/openapi.json by generate.mjs (openapi-typescript); do not edit.\n\n";
await writeFile(out, header + astToString(await openapiTS(spec, { defaultNonNullable: false })));
