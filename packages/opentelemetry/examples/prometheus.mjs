// @ts-check
// Task metrics for Prometheus: a worker on Redis runs tasks with the metrics middleware, and the
// OpenTelemetry SDK's Prometheus exporter serves the metrics on http://127.0.0.1:9464/metrics until
// Ctrl-C. Point a Prometheus scrape_config at that URL, or look at it: curl http://127.0.0.1:9464/metrics
// Plain JavaScript, so Node ≥ 20.19 runs it without a TypeScript loader:
//   REDIS_URL=redis://127.0.0.1:6379 node examples/prometheus.mjs
import { fileURLToPath } from 'node:url';
import { RedisBackend } from '@machinery/backend-redis';
import { RedisBroker } from '@machinery/broker-redis';
import { defineTask, Server } from '@machinery/core';
import { machineryMetrics } from '@machinery/opentelemetry';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/** Adds two numbers. */
export const add = defineTask(
  'add',
  /** @param {number} a @param {number} b */
  (a, b) => a + b,
);

/** Always fails, so the failure counter has something to count. */
export const broken = defineTask('broken', () => {
  throw new Error('out of order');
});

/**
 * Starts the exporter's HTTP server and a worker on `queue`, and sends three sums and one failing
 * task, so the first scrape already has numbers. `close()` stops the worker, the connections and
 * the exporter.
 *
 * @param {{ redisUrl?: string, prefix?: string, queue?: string, host?: string, port?: number }} [options]
 */
export async function start(options = {}) {
  const { redisUrl = 'redis://127.0.0.1:6379', queue = 'prometheus_example', host = '127.0.0.1' } = options;
  const port = options.port ?? 9464;
  const exporter = new PrometheusExporter({ host, port, preventServerStart: true });
  await exporter.startServer();
  const meterProvider = new MeterProvider({ readers: [exporter] });

  const redis = { url: redisUrl, ...(options.prefix !== undefined ? { prefix: options.prefix } : {}) };
  const broker = new RedisBroker({ ...redis, defaultQueue: queue });
  // Queue depths (pending, delayed, dead letters) are read from the broker at most every 15 s
  // (depthIntervalMs), however often Prometheus scrapes.
  const taskMetrics = machineryMetrics({ meterProvider, broker });
  const server = new Server({
    broker,
    backend: new RedisBackend(redis),
    middleware: { publish: [taskMetrics.publish], task: [taskMetrics.task] },
  });
  server.register(add, broken);
  // The script below stops on Ctrl-C itself, so the worker installs no signal handlers.
  await server.worker({ handleSignals: false }).start();
  for (let i = 0; i < 3; i++) await (await server.send(add.signature(i, i))).get({ timeoutMs: 10_000 });
  await (await server.send(broken.signature())).wait({ timeoutMs: 10_000 });

  return {
    url: `http://${host}:${port}/metrics`,
    server,
    async close() {
      await server.close();
      taskMetrics.close();
      await meterProvider.shutdown();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const example = await start({
    ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
    ...(process.env.PORT ? { port: Number(process.env.PORT) } : {}),
  });
  process.stdout.write(`metrics on ${example.url} (Ctrl-C stops)\n`);
  process.once('SIGINT', () => {
    void example.close();
  });
}
