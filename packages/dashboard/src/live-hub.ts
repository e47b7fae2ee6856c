import type { ServerResponse } from 'node:http';
import type { Logger, TaskEvent } from '@machinery/core';
import { errorText, redactText } from '@machinery/core';
import { renderCharts } from './charts.js';
import type { EventHistory } from './event-history.js';
import { toJson } from './json-text.js';
import type { OverviewView, Queries } from './queries.js';
import type { Redactor } from './redaction.js';

/** What the `overview` server-sent event carries: the counts and the charts, ready to insert. */
export interface LiveOverview extends OverviewView {
  /** The charts as SVG markup built from numbers only. */
  readonly charts: string;
}

/**
 * The live stream: every open page holds one server-sent-event response here. Task events are sent as
 * they arrive (`event: task`, redacted); fresh counts and charts every `refreshMs` while at least one
 * page is open (`event: overview`), so an idle dashboard reads nothing from the broker.
 */
export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly queries: Queries,
    private readonly history: EventHistory,
    private readonly redactor: Redactor,
    private readonly refreshMs: number,
    private readonly logger: Logger,
  ) {}

  /** A task event arrived from the control plane. */
  onEvent(event: TaskEvent): void {
    this.history.add(event);
    if (this.clients.size === 0) return;
    this.broadcast('task', toJson(this.redactor.event(event)));
  }

  /** Serves one `GET …/api/stream`: headers now, an overview at once, then events until it closes. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise hold the stream back.
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.refresh(), this.refreshMs);
      this.timer.unref();
    }
    this.refresh();
  }

  /** Sends fresh counts now (after an action, say), or right after the refresh under way. */
  refresh(): void {
    if (this.clients.size === 0) return;
    if (this.ticking !== undefined) {
      this.again = true;
      return;
    }
    this.ticking = this.tick().finally(() => {
      this.ticking = undefined;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    });
  }

  /** Ends every stream and stops the timer. */
  async close(): Promise<void> {
    this.stop();
    for (const res of this.clients) res.end();
    this.clients.clear();
    await this.ticking;
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    try {
      const overview = await this.queries.overview();
      const live: LiveOverview = { ...overview, charts: renderCharts(this.history.series()) };
      this.broadcast('overview', toJson(live));
    } catch (err) {
      this.logger.warn({ err: redactText(errorText(err)) }, 'dashboard: reading the counts failed');
      this.broadcast('failure', toJson({ message: redactText(errorText(err)) }));
    }
  }

  private broadcast(event: string, data: string): void {
    const frame = `event: ${event}\ndata: ${data}\n\n`;
    for (const res of this.clients) res.write(frame);
  }
}
