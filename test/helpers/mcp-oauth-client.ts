import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { FormBrowser } from './browser-form-client.js';

/**
 * An MCP SDK `OAuthClientProvider` as an agent would implement it, except that "opening the
 * browser" posts the portal's sign-in and consent forms as `person` (see FormBrowser).
 */
export class TestOAuthProvider implements OAuthClientProvider {
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';
  /** The code of the last authorization, for `transport.finishAuth(code)`. */
  code: string | undefined;
  readonly browser: FormBrowser;
  /** Every token response saved, oldest first. */
  readonly savedTokens: OAuthTokens[] = [];

  constructor(
    portalUrl: string,
    readonly person: { username: string; password: string },
    readonly redirectUrl = 'http://127.0.0.1:53682/callback',
    readonly clientMetadataUrl?: string,
  ) {
    this.browser = new FormBrowser(portalUrl);
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SDK Test Agent',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.#tokens = tokens;
    this.savedTokens.push(tokens);
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
  async redirectToAuthorization(url: URL) {
    const callback = await this.browser.authorize(url.href, this.person);
    const error = callback.searchParams.get('error');
    if (error) throw new Error(`authorization failed: ${error}`);
    this.code = callback.searchParams.get('code') ?? undefined;
  }
}
