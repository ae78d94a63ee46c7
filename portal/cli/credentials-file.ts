import { chmod, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './args.js';

/** Tokens for one resource (RFC 8707) of one authorization server. `expires_at` is seconds since the epoch. */
export interface StoredTokens {
  access_token: string;
  refresh_token?: string;
  expires_at?: number;
  scope?: string;
}

/** What the CLI keeps about one authorization server (by its RFC 8414 issuer identifier). */
export interface IssuerCredentials {
  /** The CLI's own client id there: registered once (RFC 7591), or given by `GATEHOUSE_CLIENT_ID`. */
  client_id: string;
  /** Tokens by resource (the RFC 9728 `resource` they were asked for). */
  tokens: Record<string, StoredTokens>;
}

/** `credentials.json`: a person's tokens, per issuer. Only they may read it (mode 0600). */
export interface Credentials {
  /** The portal `gatehouse login` signed in to last: the admin commands' default. */
  default_issuer?: string;
  issuers: Record<string, IssuerCredentials>;
}

/** `$XDG_CONFIG_HOME/gatehouse/credentials.json`, `~/.config/gatehouse/credentials.json` without it (XDG Base Directory). */
export function credentialsPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
  return join(base, 'gatehouse', 'credentials.json');
}

/**
 * Reads the credentials file; an empty one when there is none. A file that others may read or
 * write, or that another user owns, is refused, not used: its tokens may have leaked, or been
 * planted (the same rule as ssh's for private keys).
 */
export async function readCredentials(path: string): Promise<Credentials> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { issuers: {} };
    throw error;
  }
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new CliError(
      `refusing to use ${path}: its permissions are ${mode.toString(8).padStart(4, '0')}, so others can read or change your tokens. Run "chmod 600 ${path}" if you trust its content, or delete it and sign in again.`,
      1,
    );
  }
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) {
    throw new CliError(`refusing to use ${path}: it belongs to another user`, 1);
  }
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Credentials;
    return { ...parsed, issuers: parsed.issuers ?? {} };
  } catch {
    throw new CliError(`${path} is not a credentials file the CLI wrote; delete it and sign in again`, 1);
  }
}

/** Writes the file whole (a new file renamed over the old, mode 0600 from the start, in a 0700 directory). */
export async function writeCredentials(path: string, credentials: Credentials): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(`${JSON.stringify(credentials, null, 2)}\n`);
  } finally {
    await file.close();
  }
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}
