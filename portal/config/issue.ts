import { z } from 'zod';
import { unwrapSchema } from './schema.js';
import { nearest } from './suggest.js';

/**
 * The first problem of a failed parse, as the config file and the admin API both say it:
 * the key (`upstreams[1].id`) and what is wrong with it, with a "did you mean" hint for an
 * unknown key. `root` is the schema the document was parsed with.
 */
export function describeIssue(error: z.ZodError, document: unknown, root: z.core.$ZodType): { key: string; problem: string } {
  // A password where its hash belongs also leaves password_hash missing: the password is the one to name.
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys' && i.keys.includes('password')) ?? error.issues[0]!;
  const key = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys.includes('password') ? 'password' : issue.keys[0]!;
    const known = knownKeys(root, issue.path);
    // A password where its hash belongs: say how to make the hash rather than only naming the key.
    if (unknown === 'password' && known.includes('password_hash')) {
      return {
        key: key ? `${key}.password` : 'password',
        problem:
          'the config keeps a hash, never the password: run `gatehouse hash-password`, type the password, and put its output in password_hash',
      };
    }
    const hint = nearest(unknown, known);
    return { key: key ? `${key}.${unknown}` : unknown, problem: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}` };
  }
  if (issue.code === 'invalid_type' && lookup(document, issue.path) === undefined) return { key, problem: 'is required' };
  return { key, problem: issue.message };
}

function formatPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>(
    (out, segment) => (typeof segment === 'number' ? `${out}[${segment}]` : out ? `${out}.${String(segment)}` : String(segment)),
    '',
  );
}

function lookup(document: unknown, segments: readonly PropertyKey[]): unknown {
  return segments.reduce<unknown>(
    (node, segment) => (node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[segment] : undefined),
    document,
  );
}

/** The keys the schema allows at an object path, for "did you mean" hints. */
function knownKeys(root: z.core.$ZodType, segments: readonly PropertyKey[]): string[] {
  let schema: z.core.$ZodType | undefined = root;
  for (const segment of segments) {
    schema = unwrapSchema(schema);
    if (typeof segment === 'number') schema = schema instanceof z.ZodArray ? (schema.element as z.core.$ZodType) : undefined;
    else schema = schema instanceof z.ZodObject ? (schema.shape[segment as string] as z.core.$ZodType | undefined) : undefined;
    if (!schema) return [];
  }
  schema = unwrapSchema(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}
