import { ConfigError, resolveConfig } from '../../portal/config/load.js';

/** The one-line message a config document (and environment) stops start-up with; fails the test when it is accepted. */
export function configError(document: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    resolveConfig(document, env, 'test');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}
