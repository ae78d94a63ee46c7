import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { configFileSchema, unwrapSchema } from '../portal/config/schema.js';
import { PORTAL_VERSION } from '../portal/version.js';

describe('packaging', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

  test('npm start runs the built portal and the bin is the CLI the Dockerfile starts', () => {
    expect(pkg.scripts.start).toBe('node dist/portal/main.js');
    expect(pkg.bin.gatehouse).toBe('dist/portal/cli.js');
    expect(existsSync('dist/portal/main.js')).toBe(true);
    expect(existsSync('dist/portal/cli.js')).toBe(true);
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build$/m);
    expect(dockerfile).toContain('npm install --omit=dev --omit=optional --ignore-scripts');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain('HOST=0.0.0.0');
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "dist/portal/cli.js"]');
    // The build stage compiles everything the build config includes: none of it may be docker-ignored.
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    const built = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')).include as string[];
    for (const dir of built) expect(ignored).not.toContain(dir);
  });

  test('the portal says the version package.json says', () => {
    expect(PORTAL_VERSION).toBe(pkg.version);
  });

  test('the README documents every config key the schema accepts', () => {
    const readme = readFileSync('README.md', 'utf8');
    const missing = keyPaths(configFileSchema, '').filter((key) => !readme.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });
});

/** Every key path of the config schema: `tokens.access_ttl`, `upstreams[].id`, … */
function keyPaths(schema: z.core.$ZodType, prefix: string): string[] {
  const inner = unwrapSchema(schema);
  if (inner instanceof z.ZodArray) return keyPaths(inner.element as z.core.$ZodType, `${prefix}[]`);
  if (!(inner instanceof z.ZodObject)) return [];
  return Object.entries(inner.shape).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...keyPaths(child as z.core.$ZodType, path)];
  });
}
