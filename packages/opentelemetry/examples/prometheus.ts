// Task metrics scraped by Prometheus: the OpenTelemetry SDK's Prometheus exporter serves them on
// http://127.0.0.1:9464/metrics while a worker runs tasks. Point a Prometheus `scrape_config` at it.
// Run: pnpm --filter @machinery/opentelemetry build && node --experimental-strip-types examples/prometheus.ts
// (Node ≥ 22.6), or import `main` from it.
import { fileURLToPath } from 'node:url';
import { defineTask, MemoryBackend, MemoryBroker, Server } from '@machinery/core';
import { machineryMetrics } from '@machinery/opentelemetry';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * Runs a few tasks with the metrics middleware, then scrapes the exporter's endpoint once and logs the
 * `machinery_*` lines it serves (a real Prometheus would scrape every 15 s).
 */
export async function main(
  log: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  port = 9464,
) {
  const exporter = new PrometheusExporter({ host: '127.0.0.1', port, preventServerStart: true });
  await exporter.startServer();
  const meterProvider = new MeterProvider({ readers: [exporter] });

  const broker = new MemoryBroker();
  // Queue depths are read from the broker at most every 15 s, however often Prometheus scrapes.
  const taskMetrics = machineryMetrics({ meterProvider, broker });
  const server = new Server({
    broker,
    backend: new MemoryBackend(),
    middleware: { publish: [taskMetrics.publish], task: [taskMetrics.task] },
  });
  const add = defineTask('add', (a: number, b: number) => a + b);
  const broken = defineTask('broken', () => {
    throw new Error('out of order');
  });
  server.register(add, broken);
  await server.worker({ handleSignals: false }).start();
  for (let i = 0; i < 3; i++) await (await server.send(add.signature(i, i))).get({ timeoutMs: 5000 });
  await (await server.send(broken.signature())).wait({ timeoutMs: 5000 });

  const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const line of scraped.split('\n')) if (line.startsWith('machinery_')) log(line);

  await server.close();
  taskMetrics.close();
  await meterProvider.shutdown();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
