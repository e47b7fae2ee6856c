import { Cron } from 'croner';
import { errorText, invalidArgument } from './errors.js';
import type { Lock } from './lock.js';
import type { Logger } from './logger.js';
import { chordUUID, copySignature, type Signature, taskUUID } from './signature.js';
import { type Chain, type Chord, chain, chord, type Group, group } from './workflow.js';

/** What a schedule can send on each tick. */
export type Schedulable = Signature | Group | Chain | Chord;

/** A registered periodic schedule. */
export interface ScheduleHandle {
  readonly name: string;
  readonly spec: string;
  /** When it fires next (in this process), or `null` once removed. */
  nextRun(): Date | null;
  /** Stops the schedule in this process. */
  remove(): void;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations as used after `@every`: `500ms`, `10s`, `1m30s`, `2h`. */
export function parseDuration(text: string): number {
  const parts = text.match(/\d+(?:\.\d+)?(?:ms|s|m|h)/g);
  if (!parts || parts.join('') !== text) {
    throw invalidArgument(`Invalid duration "${text}": use forms like 500ms, 10s, 1m30s or 2h.`);
  }
  let ms = 0;
  for (const p of parts) {
    const m = DURATION.exec(p) as RegExpExecArray;
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  if (ms <= 0) throw invalidArgument(`Invalid duration "${text}": it must be longer than zero.`);
  return ms;
}

/** Computes the next fire time after `after` for a cron spec or `@every <duration>`. */
export function makeNextRun(spec: string): (after: Date) => Date | null {
  const every = /^@every\s+(\S+)$/.exec(spec.trim());
  if (every) {
    const period = parseDuration(every[1] as string);
    // Aligned to the epoch, so every process computes the same instants and the lock key matches.
    return (after) => new Date((Math.floor(after.getTime() / period) + 1) * period);
  }
  let cron: Cron;
  try {
    cron = new Cron(spec, { paused: true, mode: '5-or-6-parts' });
  } catch (err) {
    throw invalidArgument(
      `Invalid schedule "${spec}": ${errorText(err)}. Use 5-field cron ("*/5 * * * *"), a descriptor like @hourly, or @every 10s.`,
      err,
    );
  }
  return (after) => cron.nextRun(after);
}

function fresh(sig: Signature, uuid: string): Signature {
  const copy = copySignature(sig);
  copy.uuid = uuid;
  if (copy.onSuccess) copy.onSuccess = copy.onSuccess.map((s) => fresh(s, taskUUID()));
  if (copy.onError) copy.onError = copy.onError.map((s) => fresh(s, taskUUID()));
  return copy;
}

function stripForRebuild(sig: Signature): Signature {
  const copy = fresh(sig, taskUUID());
  copy.groupUUID = '';
  copy.groupTaskCount = 0;
  copy.chordCallback = null;
  return copy;
}

/** A new instance of a schedulable template with fresh ids, so every tick has its own results. */
export function instantiate(target: Schedulable): Schedulable {
  if ('kind' in target) {
    switch (target.kind) {
      case 'group':
        return group(...target.tasks.map(stripForRebuild));
      case 'chain':
        return chain(
          ...target.tasks.map((t, i) => {
            const copy = stripForRebuild(t);
            if (i < target.tasks.length - 1) copy.onSuccess = null;
            return copy;
          }),
        );
      case 'chord':
        return chord(group(...target.group.tasks.map(stripForRebuild)), fresh(target.callback, chordUUID()));
    }
  }
  return fresh(target, taskUUID());
}

/**
 * Runs periodic schedules in this process. Every process that registers the same schedule computes
 * the same tick instants; each tick takes the lock `machinery_lock_<name><spec>:<tick>` so exactly one
 * process sends it.
 */
export class Scheduler {
  private readonly schedules = new Map<string, { timer: NodeJS.Timeout | undefined; next: Date | null }>();

  constructor(
    private readonly send: (target: Schedulable) => Promise<unknown>,
    private readonly lock: Lock,
    private readonly logger: Logger,
    /** Asked before each fire: a schedule revoked through the control plane is removed instead. */
    private readonly isRevoked?: ((name: string) => Promise<boolean>) | undefined,
  ) {}

  /**
   * Starts sending `target` on `spec`.
   * @throws MachineryError `ERR_INVALID_ARGUMENT` for an invalid spec or a duplicate name.
   */
  add(spec: string, name: string, target: Schedulable): ScheduleHandle {
    if (this.schedules.has(name)) {
      throw invalidArgument(
        `A schedule named "${name}" already exists; remove it first or choose another name.`,
      );
    }
    const nextRun = makeNextRun(spec);
    const entry: { timer: NodeJS.Timeout | undefined; next: Date | null } = { timer: undefined, next: null };
    this.schedules.set(name, entry);
    const arm = (after: Date) => {
      const next = nextRun(after);
      entry.next = next;
      if (next === null || this.schedules.get(name) !== entry) return;
      entry.timer = setTimeout(() => void tick(next), Math.max(0, next.getTime() - Date.now()));
    };
    const tick = async (at: Date) => {
      arm(at);
      const following = entry.next;
      const ttlMs = Math.max(1000, (following?.getTime() ?? at.getTime() + 60_000) - at.getTime());
      try {
        if (this.isRevoked !== undefined && (await this.isRevoked(name))) {
          this.remove(name, entry);
          this.logger.info({ schedule: name }, `Periodic task "${name}" was revoked: removed`);
          return;
        }
        const key = `machinery_lock_${name}${spec}:${at.getTime()}`;
        if (!(await this.lock.acquire(key, ttlMs))) return;
        await this.send(instantiate(target));
      } catch (err) {
        this.logger.error({ err, schedule: name }, `Periodic task "${name}" could not be sent`);
      }
    };
    arm(new Date());
    return {
      name,
      spec,
      nextRun: () => (this.schedules.get(name) === entry ? entry.next : null),
      remove: () => this.remove(name, entry),
    };
  }

  /** Stops the schedule called `name`; returns whether it existed. */
  remove(name: string, only?: unknown): boolean {
    const entry = this.schedules.get(name);
    if (!entry || (only !== undefined && only !== entry)) return false;
    if (entry.timer) clearTimeout(entry.timer);
    this.schedules.delete(name);
    return true;
  }

  /** Names of the active schedules. */
  names(): string[] {
    return [...this.schedules.keys()];
  }

  /** Stops every schedule. */
  close(): void {
    for (const name of [...this.schedules.keys()]) this.remove(name);
  }
}
