import type { OptionSpec } from './command.js';

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  broker: { type: 'string', value: 'url', help: 'broker URL (default: $BROKER_URL)' },
  backend: {
    type: 'string',
    value: 'url',
    help: "result backend URL (default: $RESULT_BACKEND_URL, else the broker's server)",
  },
  lock: { type: 'string', value: 'url', help: 'lock URL (default: $LOCK_URL, else the Redis one)' },
  control: {
    type: 'string',
    value: 'url|none',
    help: "control plane URL (default: $CONTROL_URL, else the backend's server)",
  },
  'connect-timeout': {
    type: 'string',
    value: 'ms',
    help: 'how long each service may take to answer at start (default 5000)',
  },
  json: { type: 'boolean', help: 'print JSON for scripts instead of tables' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};
