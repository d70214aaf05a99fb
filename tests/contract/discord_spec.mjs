// Checks requests, responses and values against Discord's OpenAPI spec, as the npm package
// `discord-api-spec` ships it (generated daily from github.com/discord/discord-api-spec,
// specs/openapi.json, MIT): `pathsList` (method + path), the `Paths` interface of the .ts
// build (each operation's query parameters, request body and response types) and the Zod
// schemas of the /zod build (every component schema with its lengths, limits and enums).
//
// stdin:  {"items": [{"kind": "request",  "where", "method", "template", "query": [names], "body"},
//                    {"kind": "response", "where", "method", "template", "status", "body"},
//                    {"kind": "value",    "where", "schema": "ApplicationCommandCreateRequest", "value"},
//                    {"kind": "route",    "where", "method", "template"}]}
// stdout: {"errors": ["<where>: <what is wrong, with its JSON path>", ...], "version": "<package version>"}
//
// A field the spec's schema does not have is an error too (Zod would strip it silently), so a
// misspelt body field cannot pass as "optional and absent".
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as z from "zod/mini";
import * as schemas from "discord-api-spec/zod";
import { pathsList } from "discord-api-spec";

z.config(z.locales.en());   // zod/mini has no messages of its own: "expected string, received undefined"

const entry = fileURLToPath(import.meta.resolve("discord-api-spec"));
const types = readFileSync(entry.replace(/\.js$/, ".ts"), "utf8");
const version = JSON.parse(readFileSync(new URL("../package.json", `file://${entry}`), "utf8")).version;

// --- the Paths interface: "METHOD /path" -> {query, request, responses} --------------------------

function depth(text) {
  let d = 0;
  for (const c of text) {
    if (c === "{" || c === "(" || c === "<" || c === "[") d++;
    else if (c === "}" || c === ")" || c === ">" || c === "]") d--;
  }
  return d;
}

function collect(lines, i, first) {
  let text = first;
  let j = i;
  while (!(depth(text) === 0 && text.trimEnd().endsWith(";"))) {
    j++;
    if (j >= lines.length) throw new Error(`unterminated type after line ${i}`);
    text += "\n" + lines[j];
  }
  return [text.trim().replace(/;$/, "").trim(), j];
}

function parsePaths() {
  const start = types.indexOf("export interface Paths {");
  if (start < 0) throw new Error("discord-api-spec: no `export interface Paths` in the .ts build");
  const lines = types.slice(start).split("\n");
  const ops = new Map();
  let path = null;
  let op = null;
  let section = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === "}") break;
    let m;
    if ((m = /^ {2}"(.+)": \{$/.exec(line))) { path = m[1]; op = null; continue; }
    if ((m = /^ {4}(get|put|post|patch|delete): \{$/.exec(line))) {
      op = { query: [], request: "undefined", responses: {} };
      ops.set(`${m[1].toUpperCase()} ${path}`, op);
      continue;
    }
    if (!op) continue;
    if (/^ {8}query\?: \{$/.test(line)) { section = "query"; continue; }
    if (section === "query") {
      if (/^ {8}\};$/.test(line)) section = null;
      else if ((m = /^ {10}(\w+)\??:/.exec(line))) op.query.push(m[1]);
      continue;
    }
    if ((m = /^ {6}requestBody\?:(.*)$/.exec(line))) { [op.request, i] = collect(lines, i, m[1]); continue; }
    if (/^ {6}responses: \{$/.test(line)) { section = "responses"; continue; }
    if (section === "responses") {
      if (/^ {6}\};$/.test(line)) section = null;
      else if ((m = /^ {8}"(\w+)":(.*)$/.exec(line))) { let expr; [expr, i] = collect(lines, i, m[2]); op.responses[m[1]] = expr; }
    }
  }
  return ops;
}

// --- a TypeScript type expression -> a Zod schema ---------------------------------------------

function tokens(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === "{") {            // an inline object type: one opaque token
      let d = 0, j = i;
      for (; j < text.length; j++) { if (text[j] === "{") d++; else if (text[j] === "}" && --d === 0) break; }
      out.push({ inline: text.slice(i, j + 1) });
      i = j + 1;
      continue;
    }
    const m = /^[A-Za-z_]\w*/.exec(text.slice(i));
    if (m) { out.push(m[0]); i += m[0].length; continue; }
    out.push(c);
    i++;
  }
  return out;
}

const PRIMITIVES = {
  null: () => z.null(), unknown: () => z.unknown(), undefined: () => z.undefined(), string: () => z.string(),
  number: () => z.number(), boolean: () => z.boolean(),
};

function toSchema(text) {
  const toks = tokens(text);
  let k = 0;
  const inline = [];
  const union = () => {
    if (toks[k] === "|") k++;
    const parts = [postfix()];
    while (toks[k] === "|") { k++; parts.push(postfix()); }
    return parts.length === 1 ? parts[0] : z.union(parts);
  };
  const postfix = () => {
    let s = primary();
    while (toks[k] === "[" && toks[k + 1] === "]") { k += 2; s = z.array(s); }
    return s;
  };
  const primary = () => {
    const t = toks[k++];
    if (t === "(") { const s = union(); if (toks[k++] !== ")") throw new Error(`bad type: ${text}`); return s; }
    if (t === "Array" && toks[k] === "<") { k++; const s = union(); if (toks[k++] !== ">") throw new Error(`bad type: ${text}`); return z.array(s); }
    if (t && typeof t === "object") { inline.push(t.inline); return z.unknown(); }
    if (t in PRIMITIVES) return PRIMITIVES[t]();
    const schema = schemas[`${t}Schema`];
    if (!schema) throw new Error(`no Zod schema ${t}Schema for type ${text}`);
    return schema;
  };
  const schema = union();
  if (k !== toks.length) throw new Error(`bad type: ${text}`);
  return { schema, inline };
}

// --- validation ---------------------------------------------------------------------------------

function jsonPath(path) {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

// RFC 3339 (OpenAPI "format": "date-time"): Discord sends offsets ("+00:00"), which Zod's
// generated z.iso.datetime() (offset: false) refuses; such a value is checked here instead.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function at(value, path) {
  return path.reduce((v, key) => (v === null || v === undefined ? v : v[key]), value);
}

function depthOf(list) {
  return Math.max(0, ...list.map((issue) => issue.path.length + (issue.errors ? 1 : 0)));
}

function issues(list, prefix, value, out) {
  for (const issue of list) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors?.length) {
      // The union member that got furthest into the value (deepest problems, then fewest)
      // says what is wrong: for `Item[] | null` that is the array, not "expected null".
      const best = [...issue.errors].sort((a, b) => depthOf(b) - depthOf(a) || a.length - b.length)[0];
      issues(best, path, value, out);
    } else if (issue.code === "invalid_format" && issue.format === "datetime"
               && RFC3339.test(String(at(value, path)))) {
      continue;
    } else {
      out.push(`$${jsonPath(path)}: ${issue.message}`);
    }
  }
}

// Keys the schema does not have, found by walking the schema along the value (so they are
// reported together with any other problem; Zod itself would only strip them).
function unwrap(schema) {
  for (;;) {
    const def = schema?._zod?.def;
    if (!def) return schema;
    if (def.type === "optional" || def.type === "nullable" || def.type === "default" || def.type === "readonly") schema = def.innerType;
    else if (def.type === "lazy") schema = def.getter();
    else if (def.type === "pipe") schema = def.in;
    else return schema;
  }
}

function unknownKeys(schema, value, path, out) {
  schema = unwrap(schema);
  const def = schema?._zod?.def;
  if (!def || value === null || typeof value !== "object") return;
  if (def.type === "union") {
    const ranked = def.options
      .map((option) => [option, z.safeParse(option, value)])
      .sort((a, b) => (a[1].success ? 0 : a[1].error.issues.length) - (b[1].success ? 0 : b[1].error.issues.length));
    unknownKeys(ranked[0][0], value, path, out);
  } else if (def.type === "array" && Array.isArray(value)) {
    value.forEach((v, i) => unknownKeys(def.element, v, `${path}[${i}]`, out));
  } else if (def.type === "object" && !Array.isArray(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (!(key in def.shape)) out.push(`${path}.${key}: not a field of Discord's schema (misspelt, or not in the API)`);
      else unknownKeys(def.shape[key], v, `${path}.${key}`, out);
    }
  } else if (def.type === "record" && !Array.isArray(value)) {
    for (const [key, v] of Object.entries(value)) unknownKeys(def.valueType, v, `${path}.${key}`, out);
  }
}

function validate(schema, value) {
  const result = z.safeParse(schema, value);
  const out = [];
  if (!result.success) issues(result.error.issues, [], value, out);
  unknownKeys(schema, value, "$", out);
  return out;
}

function distance(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = keep;
    }
  }
  return row[b.length];
}

function closest(method, template, ops) {
  const same = [...ops.keys()].filter((key) => key.endsWith(` ${template}`)).map((key) => key.split(" ")[0]);
  if (same.length) return ` (the spec has ${same.join(", ")} on this path)`;
  const near = [...ops.keys()]
    .map((key) => key.split(" "))
    .filter(([m]) => m === method)
    .map(([, p]) => [p, distance(p, template)])
    .sort((a, b) => a[1] - b[1]);
  return near.length ? ` (nearest ${method} path: ${near[0][0]})` : "";
}

function check(item, ops) {
  const where = item.where || `${item.method ?? ""} ${item.template ?? item.schema ?? ""}`.trim();
  const errors = [];
  const say = (list) => errors.push(...list.map((e) => `${where}: ${e}`));
  if (item.kind === "value") {
    const schema = schemas[`${item.schema}Schema`];
    if (!schema) return [`${where}: no schema ${item.schema} in the spec`];
    say(validate(schema, item.value));
    return errors;
  }
  const method = String(item.method).toLowerCase();
  const listed = (pathsList[method] || []).includes(item.template);
  const op = ops.get(`${String(item.method).toUpperCase()} ${item.template}`);
  if (!listed || !op) {
    return [`${where}: ${String(item.method).toUpperCase()} ${item.template} is not in Discord's OpenAPI spec`
      + closest(String(item.method).toUpperCase(), item.template, ops)];
  }
  if (item.kind === "route") return errors;
  if (item.kind === "request") {
    for (const name of item.query || []) {
      if (!op.query.includes(name)) say([`query parameter "${name}" is not one the spec allows (${op.query.join(", ") || "none"})`]);
    }
    const takesBody = op.request !== "undefined";
    if (item.body === null || item.body === undefined) return errors;
    if (!takesBody) { say(["the spec's operation takes no request body"]); return errors; }
    const { schema, inline } = toSchema(op.request);
    if (inline.length) say([`the spec's request body is an inline type; only its outer shape was checked`]);
    say(validate(schema, item.body));
    return errors;
  }
  if (item.kind === "response") {
    const expr = op.responses[String(item.status)];
    if (expr === undefined) {
      say([`the spec has no ${item.status} response (it lists ${Object.keys(op.responses).join(", ")})`]);
      return errors;
    }
    if (String(item.status) === "204") {
      if (item.body !== null && item.body !== undefined && item.body !== "") say(["a 204 response has no body"]);
      return errors;
    }
    const { schema } = toSchema(expr);
    say(validate(schema, item.body));
    return errors;
  }
  return [`${where}: unknown item kind ${item.kind}`];
}

const input = JSON.parse(readFileSync(0, "utf8"));
const ops = parsePaths();
const errors = [];
for (const item of input.items) {
  try {
    errors.push(...check(item, ops));
  } catch (exc) {
    errors.push(`${item.where || ""}: checker error: ${exc.message}`);
  }
}
process.stdout.write(JSON.stringify({ errors, version, operations: ops.size }));
