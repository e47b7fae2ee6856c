import { randomBytes } from 'node:crypto';

/**
 * One fact of a log, keyed (`r:<uuid>` a revocation, `p:<queue>` a pause, `w:<id>` a worker): the last
 * write of a key wins, by its writer's clock (`at`, then `id` to break ties), whatever order the
 * copies arrive in — so every process converges on the same state, and a copy read twice (from the
 * stream and from the live queue) or rewritten later changes nothing.
 */
export interface Fact {
  readonly k: string;
  /** When it was decided (ms since the epoch, the writer's clock). */
  readonly at: number;
  /** Unique per decision; the rewrites of a fact keep it. */
  readonly id: string;
  /** When this copy was published (a rewrite has a later one). */
  readonly w: number;
  /** When it lapses (ms since the epoch); absent: never. */
  readonly until?: number;
  /** The key was removed (a resume, a worker that stopped). */
  readonly gone?: true;
  /** The value (a Revocation, a WorkerInfo). */
  readonly v?: unknown;
}

/** What travels on a log and on the live queues. */
export type ControlMessage =
  | { readonly t: 'facts'; readonly facts: readonly Fact[] }
  /** Marks a point in a log or a live queue: its sender waits to read it back. */
  | { readonly t: 'mark'; readonly id: string };

/** A fresh decision id. */
export function newId(): string {
  return randomBytes(8).toString('hex');
}

/** Encodes a message for the wire. */
export function encodeMessage(message: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/** Decodes a message; `undefined` for anything that is not one of ours. */
export function decodeMessage(content: Buffer): ControlMessage | undefined {
  try {
    const m = JSON.parse(content.toString('utf8')) as ControlMessage;
    if (m?.t === 'mark' && typeof m.id === 'string') return m;
    if (m?.t === 'facts' && Array.isArray(m.facts)) {
      const facts = m.facts.filter(
        (f) => typeof f?.k === 'string' && typeof f.at === 'number' && typeof f.id === 'string',
      );
      return { t: 'facts', facts };
    }
  } catch {
    // Not ours.
  }
  return undefined;
}

function newer(a: Fact, b: Fact): boolean {
  return a.at > b.at || (a.at === b.at && a.id > b.id);
}

/** True while `fact` is in force at `now`. */
export function inForce(fact: Fact, now: number): boolean {
  return fact.gone !== true && (fact.until === undefined || fact.until > now);
}

/** The current facts of one log, as this process has read it. */
export class FactView {
  private readonly facts = new Map<string, Fact>();

  /** Applies `fact`; true when it changed the view (a new decision, not a copy or an older one). */
  apply(fact: Fact): boolean {
    const current = this.facts.get(fact.k);
    if (current === undefined || newer(fact, current)) {
      this.facts.set(fact.k, fact);
      return true;
    }
    if (current.id === fact.id && fact.w > current.w) this.facts.set(fact.k, { ...current, w: fact.w });
    return false;
  }

  /** The fact of `key` if in force at `now`. */
  get(key: string, now: number): Fact | undefined {
    const fact = this.facts.get(key);
    return fact !== undefined && inForce(fact, now) ? fact : undefined;
  }

  /** Every fact in force at `now` whose key starts with `prefix`. */
  inForce(prefix: string, now: number): Fact[] {
    const out: Fact[] = [];
    for (const fact of this.facts.values())
      if (fact.k.startsWith(prefix) && inForce(fact, now)) out.push(fact);
    return out;
  }

  /**
   * The facts to rewrite so that a process reading only the last `retentionMs` still finds them: those
   * in force whose last copy is half that old, and each removal once (so it stays after any late
   * rewrite of what it removed, whatever part of the stream RabbitMQ drops first).
   */
  dueForRewrite(now: number, retentionMs: number): Fact[] {
    const half = retentionMs / 2;
    const due: Fact[] = [];
    for (const fact of this.facts.values()) {
      if (now - fact.w < half) continue;
      if (inForce(fact, now) || (fact.gone === true && fact.w - fact.at < half)) due.push(fact);
    }
    return due;
  }

  /** Forgets lapsed facts, and removals whose last copy is older than `keepGoneMs`. */
  prune(now: number, keepGoneMs: number): void {
    for (const [key, fact] of this.facts) {
      const lapsed = fact.until !== undefined && fact.until <= now;
      if (lapsed || (fact.gone === true && now - fact.w > keepGoneMs)) this.facts.delete(key);
    }
  }
}
