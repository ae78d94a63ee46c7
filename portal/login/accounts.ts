import type { AccountConfig } from '../config/schema.js';
import { verifyPassword } from '../crypto/password.js';
import type { Person } from './person.js';

/** Built-in accounts from `login.accounts`, checked against their scrypt hashes. */
export interface Accounts {
  /** The person when the password is right; `undefined` otherwise (same work either way). */
  verify(username: string, password: string): Promise<Person | undefined>;
  /** The account's person as configured now; `undefined` when the account was removed. */
  lookup(username: string): Person | undefined;
}

export function createAccounts(accounts: () => readonly AccountConfig[]): Accounts {
  return {
    async verify(username, password) {
      const account = accounts().find((a) => a.username === username);
      // verifyPassword does the same work for an unknown user, so timing does not reveal who exists.
      if (!(await verifyPassword(password, account?.passwordHash)) || !account) return undefined;
      return toPerson(account);
    },
    lookup(username) {
      const account = accounts().find((a) => a.username === username);
      return account && toPerson(account);
    },
  };
}

function toPerson(account: AccountConfig): Person {
  return {
    id: `local:${account.username}`,
    idp: 'local',
    username: account.username,
    name: account.name,
    email: account.email,
    // An operator wrote this address into the config: it is as verified as it gets.
    emailVerified: account.email !== undefined,
    groups: [...account.groups],
  };
}
