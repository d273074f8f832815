import pino from 'pino';

/** Tests assert behaviour, not log lines: set DURASTATE_TEST_LOG=debug to see them while debugging. */
export const testLogger = pino({ level: process.env.DURASTATE_TEST_LOG ?? 'silent' });
