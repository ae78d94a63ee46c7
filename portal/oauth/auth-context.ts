import type { Person } from '../login/person.js';

/** Who is calling, established by the bearer check: the person, the agent, and what they granted. */
export interface AuthContext {
  person: Person;
  clientId: string;
  clientName?: string;
  grantId: string;
  scope: string[];
  /** The token's audience. */
  resource: string;
  /** The upstreams the grant reaches. */
  upstreamIds: string[];
  /** Seconds since the epoch. */
  expiresAt: number;
}
