import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { createAdminClient } from './admin-client.js';
import { parseCommandArgs, UsageError } from './args.js';
import type { CliIo } from './io.js';
import { printJson, printTable } from './output.js';

export const APPS_USAGE = `usage: gatehouse apps <list|add|remove> [options]

  apps list [--json]
  apps add --id ID --kind mcp|http --url URL [--title TITLE] [--json]
  apps add --file upstream.yaml           (one upstream, as in the config file's upstreams list; JSON works too)
  apps remove ID
`;

interface UpstreamRow {
  id: string;
  kind: string;
  title?: string;
  url?: string;
  source: string;
}

/** `gatehouse apps …`: the admin API's upstreams (config-file ones are listed, read-only). */
export async function appsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  const common = { json: { type: 'boolean' } } as const;
  const client = () => createAdminClient(io);
  switch (verb) {
    case 'list': {
      const args = parseCommandArgs(rest, common);
      const { upstreams } = await client().request<{ upstreams: UpstreamRow[] }>('GET', '/upstreams');
      if (args.values.json) printJson(io.stdout, upstreams);
      else
        printTable(
          io.stdout,
          ['ID', 'KIND', 'SOURCE', 'URL', 'TITLE'],
          upstreams.map((u) => [u.id, u.kind, u.source, u.url ?? '(stdio)', u.title]),
        );
      return 0;
    }
    case 'add': {
      const args = parseCommandArgs(rest, {
        ...common,
        file: { type: 'string' },
        id: { type: 'string' },
        kind: { type: 'string' },
        url: { type: 'string' },
        title: { type: 'string' },
      });
      const document = upstreamDocument(args.values);
      const created = await client().request<UpstreamRow>('POST', '/upstreams', document);
      if (args.values.json) printJson(io.stdout, created);
      else io.stdout.write(`added upstream "${created.id}" (${created.kind}); every portal process serves it now\n`);
      return 0;
    }
    case 'remove': {
      const args = parseCommandArgs(rest, common);
      const id = args.positional[0];
      if (!id || args.positional.length > 1) throw new UsageError('apps remove needs exactly one upstream id');
      await client().request('DELETE', `/upstreams/${encodeURIComponent(id)}`);
      if (args.values.json) printJson(io.stdout, { removed: id });
      else io.stdout.write(`removed upstream "${id}"\n`);
      return 0;
    }
    default:
      throw new UsageError(verb ? `unknown apps command "${verb}"` : 'apps needs a command');
  }
}

function upstreamDocument(flags: { file?: string; id?: string; kind?: string; url?: string; title?: string }): Record<string, unknown> {
  const { file } = flags;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const parsed = parseYaml(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${file} must hold one upstream (a mapping)`);
    return parsed as Record<string, unknown>;
  }
  const document: Record<string, unknown> = {};
  for (const name of ['id', 'kind', 'url', 'title'] as const) {
    const value = flags[name];
    if (value !== undefined) document[name] = value;
  }
  if (!document.id || !document.kind) throw new UsageError('apps add needs --id and --kind (or --file)');
  return document;
}
