// Validates ASL definitions with the npm asl-validator's JS API (its CLI's --no-path-check is broken).
// Usage: node validate.js FILE...  -> one JSON line per file: {"file", "isValid", "errors": [messages]}
// Every check is on (paths and ARNs); the exit status is 1 when any definition is invalid.
"use strict";
const fs = require("fs");
const aslValidator = require("asl-validator");

let ok = true;
for (const file of process.argv.slice(2)) {
  const definition = JSON.parse(fs.readFileSync(file, "utf8"));
  const { isValid, errors } = aslValidator(definition, { checkPaths: true, checkArn: true });
  ok = ok && isValid;
  const messages = errors.map((e) => `${e["Error code"] || ""} ${e.Message || e.message || JSON.stringify(e)}`.trim());
  process.stdout.write(JSON.stringify({ file, isValid, errors: messages }) + "\n");
}
process.exit(ok ? 0 : 1);
