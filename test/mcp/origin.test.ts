import { originAllowed } from '../../portal/mcp/origin.js';
import { resolveConfig } from '../../portal/config/load.js';

describe('MCP Origin validation', () => {
  const issuer = 'https://gate.example.com';
  test.each<[string | undefined, boolean]>([
    [undefined, true],
    ['https://gate.example.com', true],
    ['http://localhost:6274', true],
    ['http://127.0.0.1:3000', true],
    ['https://agent.example.com', true],
    ['https://agent.example.com.evil.example', false],
    ['http://gate.example.com', false],
    ['null', false],
    ['not a url', false],
    ['file://localhost', false],
  ])('Origin %s → %s', (origin, allowed) => {
    expect(originAllowed(origin, issuer, ['https://agent.example.com'])).toBe(allowed);
  });

  test('mcp.allowed_origins is read as origins', () => {
    const config = resolveConfig({ mcp: { allowed_origins: ['https://agent.example.com/'] } }, { GATEHOUSE_SECRET: 'x'.repeat(32) }, 't');
    expect(config.mcp.allowedOrigins).toEqual(['https://agent.example.com']);
  });
});
