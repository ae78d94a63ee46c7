/**
 * The extension grant types' URIs (RFC 6749 §4.5), in a module of their own: the client registry,
 * registration and metadata name them without importing the grants that implement them.
 */

/** RFC 8628 §3.4: the device authorization grant. */
export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';

/** RFC 7523 §2.1: a JWT used as an authorization grant (here, an ID-JAG). */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** RFC 8693 §2.1: token exchange. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
