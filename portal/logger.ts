import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config/load.js';

/** Paths pino blanks in every log line, wherever a secret could ride along. */
const REDACT = [
  'password',
  'secret',
  'token',
  'access_token',
  'refresh_token',
  'code',
  'code_verifier',
  'client_secret',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
];

/** JSON lines on stdout (or `destination`), secrets redacted. */
export function createLogger(options: { level: LogLevel; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'gatehouse' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
