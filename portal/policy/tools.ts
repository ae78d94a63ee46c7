import type { UpstreamConfig } from '../config/schema.js';
import type { Person } from '../login/person.js';

type ToolRules = { tools: Pick<UpstreamConfig['tools'], 'allow' | 'deny' | 'allow_groups' | 'deny_groups'> };

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
  const { allow, deny, allow_groups: allowGroups, deny_groups: denyGroups } = upstream.tools;
  if ((allow.length > 0 && !allow.includes(tool)) || deny.includes(tool)) return false;
  // Own-property lookups only: a tool called "constructor" must not find Object.prototype's.
  const onlyFor = Object.hasOwn(allowGroups, tool) ? allowGroups[tool]! : undefined;
  const notFor = Object.hasOwn(denyGroups, tool) ? denyGroups[tool]! : undefined;
  const groups = person?.groups ?? [];
  if (onlyFor && !groups.some((g) => onlyFor.includes(g))) return false;
  if (notFor && groups.some((g) => notFor.includes(g))) return false;
  return true;
}
