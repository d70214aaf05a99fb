/**
 * The live preview of an announcement template (Settings page): placeholders replaced by sample values,
 * as the server's Python `str.format` does (`{{` and `}}` are literal braces; `{level:>3}` keeps its name).
 * The placeholder list and samples come from the server (GET …/admin/settings/placeholders), the same
 * list the save-time check uses, so the preview flags exactly what a save would refuse.
 */
export interface Placeholder {
  name: string;
  description: string;
  sample: string;
}

export interface Preview {
  text: string;
  /** Placeholders the template uses that this setting does not know (a save would answer 422). */
  unknown: string[];
  /** An unbalanced brace, if any. */
  error: string | null;
}

export function renderPreview(template: string, placeholders: Placeholder[]): Preview {
  const samples = new Map(placeholders.map((p) => [p.name, p.sample]));
  const unknown: string[] = [];
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '{' && template[i + 1] === '{') { out += '{'; i++; continue; }
    if (c === '}' && template[i + 1] === '}') { out += '}'; i++; continue; }
    if (c === '}') return { text: out, unknown, error: "a single '}' (write '}}' for a literal brace)" };
    if (c !== '{') { out += c; continue; }
    const end = template.indexOf('}', i);
    if (end < 0) return { text: out, unknown, error: "a '{' is not closed (write '{{' for a literal brace)" };
    const field = template.slice(i + 1, end);
    const name = field.split(/[:!]/)[0];
    const sample = samples.get(name);
    if (sample === undefined) {
      if (!unknown.includes(name)) unknown.push(name);
      out += `{${field}}`;
    } else {
      out += sample;
    }
    i = end;
  }
  return { text: out, unknown, error: null };
}
