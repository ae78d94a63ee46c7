import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Store } from '../store/store.js';
import type { AuditEvent } from './event.js';

/** Where audit events go. `write` resolves once the event is durable there (as far as the sink can say). */
export interface AuditSink {
  name: string;
  write(event: AuditEvent): Promise<void>;
  close?(): Promise<void>;
}

/** The Store stream audit events are appended to (capped; the admin API queries it). */
export const AUDIT_STREAM = 'audit:{events}';

/** JSON lines on a writable (stdout by default). */
export function lineSink(out: Writable, name = 'stdout'): AuditSink {
  return {
    name,
    write: (event) =>
      new Promise((resolve, reject) => {
        out.write(`${JSON.stringify(event)}\n`, (error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** JSON lines appended to a file (opened once, `a` mode, so several processes may share it line-wise). */
export function fileSink(path: string): AuditSink {
  let file: WriteStream | undefined;
  const open = () => (file ??= createWriteStream(path, { flags: 'a' }));
  return {
    name: 'file',
    write: (event) =>
      new Promise((resolve, reject) => {
        open().write(`${JSON.stringify(event)}\n`, (error) => (error ? reject(error) : resolve()));
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
    write: async (event) => {
      await store.append(AUDIT_STREAM, JSON.stringify(event), { maxLength });
    },
  };
}
