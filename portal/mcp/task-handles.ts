import type { Sealer } from '../crypto/seal.js';

/** Whom a task belongs to: the person, through the agent that started it. */
export interface TaskOwner {
  personId: string;
  clientId: string;
}

/** The upstream task behind a handle an agent holds. */
export interface TaskTarget {
  upstreamId: string;
  taskId: string;
}

/**
 * The task ids agents hold (the tasks extension, `io.modelcontextprotocol/tasks`): an upstream's
 * task id sealed (AES-GCM) with its upstream, to the person and the agent. Any portal process
 * routes a `tasks/*` request back to its upstream without a lookup, task ids of two upstreams
 * never collide, and a handle tampered with, guessed, or held by another person or agent opens
 * to nothing.
 */
export interface TaskHandles {
  handle(owner: TaskOwner, target: TaskTarget): string;
  /** `undefined` when the handle is not one this owner was given. */
  resolve(owner: TaskOwner, handle: string): TaskTarget | undefined;
}

export function createTaskHandles(sealer: Sealer): TaskHandles {
  const boundTo = (owner: TaskOwner) => `task\n${owner.personId}\n${owner.clientId}`;
  return {
    handle(owner, target) {
      return sealer.seal(JSON.stringify([target.upstreamId, target.taskId]), boundTo(owner));
    },
    resolve(owner, handle) {
      try {
        const [upstreamId, taskId] = JSON.parse(sealer.open(handle, boundTo(owner))) as [string, string];
        return { upstreamId, taskId };
      } catch {
        return undefined;
      }
    },
  };
}
