import { defaultBackendUrl, optionsFromEnv } from '@machinery/connect';
import { MachineryError } from '@machinery/core';

/**
 * Checks the settings of a producer or worker that runs as its own process: `BROKER_URL` must name a
 * network broker, and results must not stay in process memory, where the other side can never read
 * them (the producer would wait for results that never come).
 * @throws MachineryError `ERR_INVALID_ARGUMENT` saying which variable to set.
 */
export function assertStandalone(app: 'producer' | 'worker', env: NodeJS.ProcessEnv = process.env): void {
  const broker = env.BROKER_URL?.trim() ?? '';
  if (broker === '' || broker.toLowerCase().startsWith('memory:')) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `${broker === '' ? 'BROKER_URL is not set' : `BROKER_URL=${broker} is in-process`}: the ${app} needs a broker the ${app === 'producer' ? 'worker' : 'producer'} also reaches; set BROKER_URL=redis://…, amqp://… or sqs://… (or run \`pnpm demo\` for everything in one process).`,
    );
  }
  const options = optionsFromEnv(env);
  const backend = options.backend ?? defaultBackendUrl(options.broker);
  if (backend?.toLowerCase().startsWith('memory:')) {
    throw new MachineryError(
      'ERR_INVALID_ARGUMENT',
      `RESULT_BACKEND_URL=${backend} keeps results inside this process, where the ${app === 'producer' ? 'worker cannot store' : 'producer cannot read'} them: set RESULT_BACKEND_URL=redis://…, memcache://… or amqp://….`,
    );
  }
}

/**
 * Reads a positive whole number from the environment.
 * @throws MachineryError `ERR_INVALID_ARGUMENT` naming the variable.
 */
export function positiveIntFromEnv(
  name: string,
  fallback: number,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new MachineryError('ERR_INVALID_ARGUMENT', `${name}=${raw} is not a positive whole number.`);
  }
  return value;
}
