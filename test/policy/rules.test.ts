import { mayUseUpstream, whyDenied } from '../../portal/policy/access.js';
import { isAdmin } from '../../portal/policy/admins.js';
import { mayUseTool, needsApproval } from '../../portal/policy/tools.js';
import type { Person } from '../../portal/login/person.js';

const person = (over: Partial<Person> = {}): Person => ({
  id: 'corp:p',
  idp: 'corp',
  email: 'p@corp.example',
  emailVerified: true,
  groups: [],
  ...over,
});
const access = (rules: Partial<Record<'groups' | 'emails' | 'domains' | 'idps', string[]>>) => ({
  access: { groups: [], emails: [], domains: [], idps: [], ...rules },
});
const tools = (
  rules: Partial<{ allow: string[]; deny: string[]; allowGroups: Record<string, string[]>; denyGroups: Record<string, string[]> }>,
) => ({
  tools: { allow: [], deny: [], rename: {}, describe: {}, allowGroups: {}, denyGroups: {}, ...rules },
});

describe('upstream access rules', () => {
  test('no rules admit every signed-in person; any one of groups, emails, domains admits', () => {
    expect(mayUseUpstream(person(), access({}))).toBe(true);
    expect(mayUseUpstream(person({ groups: ['eng'] }), access({ groups: ['eng'] }))).toBe(true);
    expect(mayUseUpstream(person(), access({ emails: ['P@corp.example'] }))).toBe(true);
    expect(mayUseUpstream(person(), access({ domains: ['corp.example'] }))).toBe(true);
    expect(mayUseUpstream(person(), access({ groups: ['eng'], domains: ['other.example'] }))).toBe(false);
  });

  test('idps narrows: a matching group from another IdP does not admit', () => {
    const rules = access({ idps: ['corp'], groups: ['admins'] });
    expect(mayUseUpstream(person({ groups: ['admins'] }), rules)).toBe(true);
    expect(mayUseUpstream(person({ idp: 'partner', groups: ['admins'] }), rules)).toBe(false);
    expect(whyDenied(person({ idp: 'partner', groups: ['admins'] }), rules)).toMatch(/sign in another way/);
    expect(mayUseUpstream(person({ idp: 'local' }), access({ idps: ['local'] }))).toBe(true);
  });

  test('an unverified email matches neither email nor domain rules, and the reason says so', () => {
    const unverified = person({ emailVerified: false });
    expect(mayUseUpstream(unverified, access({ domains: ['corp.example'] }))).toBe(false);
    expect(mayUseUpstream(unverified, access({ emails: ['p@corp.example'] }))).toBe(false);
    expect(whyDenied(unverified, access({ domains: ['corp.example'] }))).toMatch(/not verified/);
    expect(whyDenied(person(), access({ groups: ['eng'] }))).toMatch(/not in a group/);
  });
});

describe('per-tool rules', () => {
  test('allow/deny apply to everyone; allow_groups and deny_groups by group', () => {
    const upstream = tools({ deny: ['drop'], allowGroups: { refund: ['finance'] }, denyGroups: { export: ['contractors'] } });
    expect(mayUseTool(person(), upstream, 'search')).toBe(true);
    expect(mayUseTool(person({ groups: ['finance'] }), upstream, 'drop')).toBe(false);
    expect(mayUseTool(person(), upstream, 'refund')).toBe(false);
    expect(mayUseTool(person({ groups: ['finance'] }), upstream, 'refund')).toBe(true);
    expect(mayUseTool(person({ groups: ['contractors'] }), upstream, 'export')).toBe(false);
    expect(mayUseTool(undefined, upstream, 'refund')).toBe(false);
    expect(mayUseTool(person(), tools({ allow: ['a'] }), 'b')).toBe(false);
  });

  test('tool names that are Object.prototype properties are not rules', () => {
    expect(mayUseTool(person(), tools({}), 'constructor')).toBe(true);
    expect(mayUseTool(person(), tools({}), '__proto__')).toBe(true);
  });
});

describe("tools that need the person's approval", () => {
  const approval = (...patterns: string[]) => ({ tools: { approval: patterns } });

  test('names match exactly; * matches any run of characters, none included', () => {
    expect(needsApproval(approval('delete_page'), 'delete_page')).toBe(true);
    expect(needsApproval(approval('delete_page'), 'delete_pages')).toBe(false);
    expect(needsApproval(approval('delete_*'), 'delete_')).toBe(true);
    expect(needsApproval(approval('delete_*'), 'delete_page')).toBe(true);
    expect(needsApproval(approval('delete_*'), 'undelete_page')).toBe(false);
    expect(needsApproval(approval('*_admin_*'), 'grant_admin_role')).toBe(true);
    expect(needsApproval(approval('*_admin_*'), 'admin_role')).toBe(false);
    expect(needsApproval(approval('a*b*a'), 'aba')).toBe(true);
    // The parts may not overlap: "ab*ba" needs at least "abba".
    expect(needsApproval(approval('ab*ba'), 'aba')).toBe(false);
    expect(needsApproval(approval('*'), 'anything')).toBe(true);
    expect(needsApproval(approval(), 'anything')).toBe(false);
  });

  test('every other character is itself: no regular expression, no ? or [ ] wildcards', () => {
    expect(needsApproval(approval('drop.table'), 'dropXtable')).toBe(false);
    expect(needsApproval(approval('drop?'), 'drops')).toBe(false);
    expect(needsApproval(approval('[ab]'), 'a')).toBe(false);
    expect(needsApproval(approval('[ab]'), '[ab]')).toBe(true);
  });
});

describe('admins', () => {
  const admins = { groups: ['platform'], emails: ['root@corp.example'] };
  test('by group, or by a verified email; nobody when the rules are empty', () => {
    expect(isAdmin(person({ groups: ['platform'] }), admins)).toBe(true);
    expect(isAdmin(person({ email: 'ROOT@corp.example' }), admins)).toBe(true);
    expect(isAdmin(person({ email: 'root@corp.example', emailVerified: false }), admins)).toBe(false);
    expect(isAdmin(person({ groups: ['eng'] }), admins)).toBe(false);
    expect(isAdmin(person({ groups: ['platform'] }), { groups: [], emails: [] })).toBe(false);
  });
});
