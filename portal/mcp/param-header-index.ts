import type { Tool } from '@modelcontextprotocol/server';
import { paramHeaderDeclarations, type ParamHeaderDeclaration } from './standard-headers.js';

/** How long a process trusts the declarations it learned from an upstream's listing. */
const TRUST_MS = 60_000;

/**
 * The `x-mcp-header` declarations of each upstream's tools, as this process last saw them listed:
 * checking a 2026 agent's `Mcp-Param-*` headers then costs no upstream listing per call. A
 * disagreement found with what is remembered is checked again against a fresh listing before the
 * agent is refused (the caller's part), so a changed tool is never refused on old knowledge.
 */
export class ParamHeaderIndex {
  readonly #upstreams = new Map<string, { tools: Map<string, ParamHeaderDeclaration[]>; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The tool's declarations; `undefined` when this upstream's tools are not known here (or no longer trusted). */
  declarationsOf(upstreamId: string, tool: string): ParamHeaderDeclaration[] | undefined {
    const known = this.#upstreams.get(upstreamId);
    if (!known || known.until <= this.now()) return undefined;
    return known.tools.get(tool) ?? [];
  }

  /** Learns an upstream's whole listing. */
  learn(upstreamId: string, tools: Tool[]): void {
    const declared = new Map<string, ParamHeaderDeclaration[]>();
    for (const tool of tools) {
      const declarations = paramHeaderDeclarations(tool.inputSchema);
      if (declarations.length) declared.set(tool.name, declarations);
    }
    this.#upstreams.set(upstreamId, { tools: declared, until: this.now() + TRUST_MS });
  }
}
