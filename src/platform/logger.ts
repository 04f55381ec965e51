import pino, { type Logger } from 'pino';

/**
 * Paths redacted from every log line. Request bodies are never logged, but a handler
 * that logs an object by mistake must still not leak a buyer's recipient data.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-livecart-signature"]',
  '*.password',
  '*.token',
  '*.recipient',
  '*.name',
  '*.phone',
  '*.address',
  '*.detail',
  '*.accountNumber',
  'recipient',
  'password',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'livecart' },
      // ISO time rather than epoch milliseconds: a 13-digit run of digits would look like a
      // phone number to the leak checks that grep logs for 1[3-9]\d{9}.
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
