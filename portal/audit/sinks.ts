import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Store } from '../store/store.js';

/** Where audit events go, as sealed JSON lines. `write` resolves once the line is durable there (as far as the sink can say). */
export interface AuditSink {
  name: string;
  write(line: string): Promise<void>;
  close?(): Promise<void>;
}

/** The Store stream audit events are appended to (capped; the admin API queries it). */
export const AUDIT_STREAM = 'audit:{events}';

/** JSON lines on a writable (stdout by default). */
export function lineSink(out: Writable, name = 'stdout'): AuditSink {
  return {
    name,
    write: (line) =>
      new Promise((resolve, reject) => {
        out.write(`${line}\n`, (error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** JSON lines appended to a file (opened once, `a` mode, so several processes may share it line-wise). */
export function fileSink(path: string): AuditSink {
  let file: WriteStream | undefined;
  const open = () => (file ??= createWriteStream(path, { flags: 'a' }));
  return {
    name: 'file',
    write: (line) =>
      new Promise((resolve, reject) => {
        open().write(`${line}\n`, (error) => (error ? reject(error) : resolve()));
      }),
    close: () =>
      new Promise((resolve) => {
        if (!file) return resolve();
        file.end(() => resolve());
      }),
  };
}

/** The Store's capped stream: what `/admin/api/v1/audit` queries and `gatehouse audit verify` checks. */
export function streamSink(store: Store, maxLength: number): AuditSink {
  return {
    name: 'store',
    write: async (line) => {
      await store.append(AUDIT_STREAM, line, { maxLength });
    },
  };
}
