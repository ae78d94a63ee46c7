import {
  ProtocolError,
  ProtocolErrorCode,
  type CallToolResult,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplateType,
  type Tool,
} from '@modelcontextprotocol/server';
import type { AppPage, FetchAppPageOptions } from '../apps/fetch-page.js';
import type { UpstreamConfig } from '../config/schema.js';
import { knownHttpError } from '../http/errors.js';
import type { AuthContext } from '../oauth/bearer.js';
import { prefixedName } from './naming.js';

/** Fetches a page of an HTTP app as the caller (the apps capability's `fetchPage`). */
export type FetchAppPage = (upstream: UpstreamConfig, path: string, options: FetchAppPageOptions) => Promise<AppPage>;

const FETCH_TOOL = 'fetch';

/**
 * HTTP apps in the MCP aggregate: each app the person may use offers a tool
 * `{id}__fetch` and its entry pages as resources (plus a template for any path), read as
 * Markdown with the person's identity. Resource URIs are the pages' portal URLs.
 */
export class AppsInAggregate {
  constructor(
    private readonly apps: UpstreamConfig[],
    private readonly fetchPage: FetchAppPage,
    private readonly issuer: string,
    private readonly auth: AuthContext,
    private readonly maxToolNameLength: number,
  ) {}

  tools(): Tool[] {
    return this.apps.map((app) => ({
      name: prefixedName(app.id, FETCH_TOOL, this.maxToolNameLength),
      title: `Read ${app.title ?? app.id}`,
      description: `Fetch a page of the web app "${app.title ?? app.id}" (${this.#base(app)}/) as you, as Markdown by default.`,
      inputSchema: {
        type: 'object',
        properties: {
          path: { type: 'string', description: 'Path of the page within the app, starting with /, e.g. /index.html' },
          format: { type: 'string', enum: ['markdown', 'html'], description: 'markdown (default) or html' },
        },
        required: ['path'],
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    }));
  }

  /** The app whose fetch tool has this name, if any. */
  appOfTool(name: string): UpstreamConfig | undefined {
    return this.apps.find((app) => prefixedName(app.id, FETCH_TOOL, this.maxToolNameLength) === name);
  }

  async callFetch(app: UpstreamConfig, args: Record<string, unknown> | undefined): Promise<CallToolResult> {
    const path = args?.path;
    const format = args?.format ?? 'markdown';
    if (typeof path !== 'string' || !path.startsWith('/') || (format !== 'markdown' && format !== 'html')) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'path must be a string starting with /, format markdown or html');
    }
    try {
      const page = await this.fetchPage(app, path, { auth: this.auth, format });
      return { content: [{ type: 'text', text: page.body }], isError: page.status >= 400, _meta: { status: page.status, url: page.url } };
    } catch (error) {
      const known = knownHttpError(error);
      if (!known) throw error;
      return { isError: true, content: [{ type: 'text', text: `Could not fetch ${path} from "${app.id}": ${known.message}` }] };
    }
  }

  resources(): Resource[] {
    return this.apps.flatMap((app) =>
      app.entryPages.map((path) => ({
        uri: `${this.#base(app)}${path}`,
        name: `${app.id}${path}`,
        title: `${app.title ?? app.id} ${path}`,
        mimeType: 'text/markdown',
      })),
    );
  }

  templates(): ResourceTemplateType[] {
    return this.apps.map((app) => ({
      uriTemplate: `${this.#base(app)}{+path}`,
      name: `${app.id}-page`,
      title: `Any page of ${app.title ?? app.id}`,
      mimeType: 'text/markdown',
    }));
  }

  /** Reads a page by its portal URL; `undefined` when the URI is not an app page shown here. */
  async read(uri: string): Promise<ReadResourceResult | undefined> {
    const app = this.apps.find((a) => uri.startsWith(`${this.#base(a)}/`));
    if (!app) return undefined;
    let page: AppPage;
    try {
      page = await this.fetchPage(app, uri.slice(this.#base(app).length), { auth: this.auth, format: 'markdown' });
    } catch (error) {
      const known = knownHttpError(error);
      if (!known) throw error;
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `cannot read ${uri}: ${known.message}`);
    }
    if (page.status >= 400) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `cannot read ${uri}: the app answered ${page.status}`);
    return { contents: [{ uri, mimeType: page.contentType.split(';')[0], text: page.body }] };
  }

  #base(app: UpstreamConfig): string {
    return `${this.issuer}/apps/${app.id}`;
  }
}
