import type { Logger } from '@machinery/core';
import type { Pool } from 'pg';
import type { ResolvedOptions } from './options.js';
import type { Statements } from './statements.js';

/** What the broker shares with its consumers. */
export interface BrokerContext {
  readonly pool: Pool;
  readonly sql: Statements;
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  /** Where the database is, for error messages (credentials redacted). */
  readonly where: string;
  /** Reports a failure of a background job (renewal, claim) through the logger. */
  reportError(what: string, err: unknown): void;
}
