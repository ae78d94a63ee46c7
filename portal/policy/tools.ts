import type { UpstreamConfig } from '../config/schema.js';
import type { Person } from '../login/person.js';

type ToolRules = { tools: Pick<UpstreamConfig['tools'], 'allow' | 'deny' | 'allowGroups' | 'denyGroups'> };

/**
 * Whether a person may use one of an upstream's tools (named as the upstream names it, before
 * `rename`). Pure: no I/O. All of these must hold:
 * - `tools.allow` is empty or lists the tool, and `tools.deny` does not (for everyone);
 * - `tools.allow_groups[tool]`, when given, shares a group with the person (only they may use it);
 * - `tools.deny_groups[tool]`, when given, shares no group with the person.
 *
 * A person without the call is not shown the tool either: listing and calling apply the same rule.
 */
export function mayUseTool(person: Pick<Person, 'groups'> | undefined, upstream: ToolRules, tool: string): boolean {
  const { allow, deny, allowGroups, denyGroups } = upstream.tools;
  if ((allow.length > 0 && !allow.includes(tool)) || deny.includes(tool)) return false;
  // Own-property lookups only: a tool called "constructor" must not find Object.prototype's.
  const onlyFor = Object.hasOwn(allowGroups, tool) ? allowGroups[tool]! : undefined;
  const notFor = Object.hasOwn(denyGroups, tool) ? denyGroups[tool]! : undefined;
  const groups = person?.groups ?? [];
  if (onlyFor && !groups.some((g) => onlyFor.includes(g))) return false;
  if (notFor && groups.some((g) => notFor.includes(g))) return false;
  return true;
}

/**
 * Whether a call to one of an upstream's tools (its own name, before `rename`) waits for the
 * person's approval: `tools.approval` names it, or holds a glob matching it (`*`: any run of
 * characters, `delete_*`). Pure: no I/O.
 */
export function needsApproval(upstream: { tools: Pick<UpstreamConfig['tools'], 'approval'> }, tool: string): boolean {
  return upstream.tools.approval.some((pattern) => globMatches(pattern, tool));
}

/** `*` matches any run of characters (none included); every other character only itself. */
function globMatches(pattern: string, name: string): boolean {
  const [first, ...rest] = pattern.split('*');
  if (rest.length === 0) return pattern === name;
  const last = rest.pop()!;
  if (!name.startsWith(first!) || name.length < first!.length + last.length || !name.endsWith(last)) return false;
  let at = first!.length;
  const end = name.length - last.length;
  for (const middle of rest) {
    const found = name.indexOf(middle, at);
    if (found < 0 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}
