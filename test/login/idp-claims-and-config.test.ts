import { generateKeyPairSync } from 'node:crypto';
import { resolveConfig } from '../../portal/config/load.js';
import { personFromClaims } from '../../portal/login/idp-claims.js';

const idp = { id: 'corp', groupsClaim: 'groups', assumeEmailVerified: false };
const config = (login: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  resolveConfig({ login, ...extra }, { GATEHOUSE_SECRET: 'x'.repeat(32), PUBLIC_URL: 'https://gate.example.com' }, 'test');
const base = { id: 'corp', issuer: 'https://idp.example.com', client_id: 'gatehouse', client_secret: 's' };

describe('claims to person (OIDC Core 1.0 §5.1)', () => {
  test('id {idp}:{sub}, name, email when verified, groups from the configured claim', () => {
    const person = personFromClaims(
      idp,
      { sub: 'u1', email: 'a@corp.example', email_verified: true, name: 'A', groups: ['eng', 'eng', 7] },
      1000,
    );
    expect(person).toEqual({
      id: 'corp:u1',
      idp: 'corp',
      username: undefined,
      name: 'A',
      email: 'a@corp.example',
      emailVerified: true,
      groups: ['eng'],
      claimsAt: 1000,
    });
  });

  test('email_verified false drops the email; absent keeps it unverified unless assume_email_verified', () => {
    expect(personFromClaims(idp, { sub: 'u', email: 'a@corp.example', email_verified: false })).toMatchObject({
      email: undefined,
      emailVerified: false,
    });
    expect(personFromClaims(idp, { sub: 'u', email: 'a@corp.example' })).toMatchObject({ email: 'a@corp.example', emailVerified: false });
    expect(personFromClaims({ ...idp, assumeEmailVerified: true }, { sub: 'u', email: 'a@corp.example' })).toMatchObject({
      emailVerified: true,
    });
  });

  test('a dotted groups_claim reads nested claims (Keycloak realm_access.roles); a string is one group', () => {
    expect(personFromClaims({ ...idp, groupsClaim: 'realm_access.roles' }, { sub: 'u', realm_access: { roles: ['ops'] } }).groups).toEqual([
      'ops',
    ]);
    expect(personFromClaims({ ...idp, groupsClaim: 'role' }, { sub: 'u', role: 'admin' }).groups).toEqual(['admin']);
    expect(personFromClaims(idp, { sub: 'u', given_name: 'Ada', family_name: 'L' }).name).toBe('Ada L');
  });
});

describe('login.idps config', () => {
  test('defaults: client_secret_basic, openid email profile, groups claim, 12h claims_max_age', () => {
    expect(config({ idps: [base] }).login.idps[0]).toMatchObject({
      clientAuth: 'client_secret_basic',
      scopes: ['openid', 'email', 'profile'],
      groupsClaim: 'groups',
      primary: false,
      claimsMaxAgeMs: 12 * 3600_000,
    });
  });

  test.each([
    [{ idps: [{ ...base, issuer: 'http://idp.example.com' }] }, /login\.idps\[0\]\.issuer: must be an https URL/],
    [{ idps: [{ ...base, id: 'local' }] }, /login\.idps\[0\]\.id: must not be "local"/],
    [{ idps: [{ ...base, id: 'service' }] }, /login\.idps\[0\]\.id: must not be "service" \(that names the service clients\)/],
    [{ idps: [{ ...base, client_secret: undefined }] }, /login\.idps\[0\]\.client_secret: is required for client_auth client_secret_basic/],
    [{ idps: [{ ...base, client_auth: 'private_key_jwt' }] }, /login\.idps\[0\]\.private_key: is required/],
    [
      { idps: [{ ...base, client_auth: 'private_key_jwt', private_key: 'not a key' }] },
      /login\.idps\[0\]\.private_key: must be a PKCS#8 PEM/,
    ],
    [{ idps: [{ ...base, scopes: ['email'] }] }, /login\.idps\[0\]\.scopes: must include "openid"/],
    [
      {
        idps: [
          { ...base, primary: true },
          { ...base, id: 'b', primary: true },
        ],
      },
      /login\.idps\[1\]\.primary: only one identity provider may be primary/,
    ],
    [{ idps: [base, base] }, /login\.idps\[1\]\.id: duplicates identity provider "corp"/],
    [{ builtin: false }, /login\.builtin: cannot be false without login\.idps/],
    [{ idps: [{ ...base, clientid: 'x' }] }, /login\.idps\[0\]\.clientid: unknown key \(did you mean "client_id"\?\)/],
  ])('%j is refused with one line naming the key', (login, message) => {
    expect(() => config(login)).toThrow(message);
  });

  test('access.idps must name local or a configured IdP; a private_key_jwt key is accepted', () => {
    const upstreams = [{ id: 'w', kind: 'mcp', url: 'http://127.0.0.1:1/mcp', access: { idps: ['crop'] } }];
    expect(() => config({ idps: [base] }, { upstreams })).toThrow(/upstreams\[0\]\.access\.idps\[0\]: names no identity provider "crop"/);
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(
      config({ idps: [{ ...base, client_secret: undefined, client_auth: 'private_key_jwt', private_key: pem }] }).login.idps[0]!.clientAuth,
    ).toBe('private_key_jwt');
    expect(config({ idps: [{ ...base, issuer: 'http://127.0.0.1:9000' }] }).login.idps).toHaveLength(1);
  });
});
