/**
 * The portal's version, as `package.json` says (the packaging test holds them equal): its MCP
 * server and client info, its trace resource.
 */
export const PORTAL_VERSION = '0.1.0';
