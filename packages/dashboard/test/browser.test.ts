import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { group, signature } from '@machinery/core';
import { eventually } from '@machinery/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { add, type Stack, slow, startStack } from './stack.js';

// Debian's chromium (scripts/services.mjs installs it); playwright-core never downloads a browser.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-artifacts');
// The page budgets: at most 200 kB of JavaScript, first paint under a second on this machine.
const JS_BUDGET = 200 * 1024;
const PAINT_BUDGET_MS = 1000;
const LONG = { timeoutMs: 20_000, intervalMs: 100 };

let browser: Browser;
let s: Stack;
let idle: string;
const jsBytes: Record<string, number> = {};
const paints: Record<string, number | null> = {};

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: run "node scripts/services.mjs up chromium" (installs Debian's chromium) or set CHROMIUM_PATH.`,
    );
  }
  // Emptied first, so every screenshot and the size report there are from this run.
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  s = await startStack({ actions: true, refreshMs: 300 });
  // A queue no worker consumes, so its pending count stays what the test sent.
  idle = `${s.queue}_idle`;
  await s.worker();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
  writeFileSync(
    join(artifacts, 'js-size.json'),
    `${JSON.stringify({ budgetBytes: JS_BUDGET, jsBytes, paintBudgetMs: PAINT_BUDGET_MS, firstContentfulPaintMs: paints }, null, 2)}\n`,
  );
  // The numbers behind the budget test below, for the log.
  console.log('dashboard pages: JavaScript bytes', jsBytes, 'first contentful paint (ms)', paints);
});

/** Opens `path`, records the JavaScript it loaded and its first paint, and waits for the live stream. */
async function open(path: string, name: string): Promise<Page> {
  const page = await browser.newPage();
  const scripts: Promise<number>[] = [];
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'script') return;
    scripts.push(response.body().then((b) => b.length));
  });
  page.on('dialog', (dialog) => {
    void dialog.accept();
  });
  const response = await page.goto(`${s.url}${path}`);
  expect(response?.status(), path).toBe(200);
  await page.waitForSelector('body[data-live="connected"]', { timeout: 10_000 });
  // Awaited here, so a body still being read is counted rather than missed.
  jsBytes[name] = (await Promise.all(scripts)).reduce((a, b) => a + b, 0);
  paints[name] = await page.evaluate(() => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return fcp ? Math.round(fcp.startTime) : null;
  });
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

async function cellText(page: Page, queue: string, col: string): Promise<string> {
  return (await page.locator(`td[data-q="${queue}"][data-col="${col}"]`).textContent()) ?? '';
}

describe('the dashboard in Chromium, against Redis with a worker running', () => {
  it('the overview shows the broker counts and updates them live', async () => {
    for (let i = 0; i < 3; i++) await s.server.send(add.signatureWith({ routingKey: idle }, i, i));
    const page = await open('/', 'overview');
    await eventually(async () => {
      const listed = (await s.broker.pendingTasks(idle)).length;
      expect(await cellText(page, idle, 'pending')).toBe(String(listed));
      expect(listed).toBe(3);
    }, LONG);
    await shot(page, 'overview');

    await s.server.send(add.signatureWith({ routingKey: idle }, 9, 9));
    await page.waitForFunction(
      (q) => document.querySelector(`td[data-q="${q}"][data-col="pending"]`)?.textContent === '4',
      idle,
      { timeout: 10_000 },
    );
    // A task the worker runs shows up in the live event list.
    const done = await s.server.send(add.signature(40, 2));
    await done.get({ timeoutMs: 10_000 });
    await page.waitForSelector(`#events a[href$="${done.taskUUID}"]`, { timeout: 10_000 });
    expect(await page.locator('#charts svg').count()).toBe(3);
    await shot(page, 'overview-live');
    await page.close();
  });

  it('pause and resume buttons change the queue and the workers follow; only the one that fits shows', async () => {
    const page = await open('/', 'overview-actions');
    const row = page.locator(`tr[data-queue="${s.queue}"]`);
    const pause = row.locator('button[data-action="pause"]');
    const resume = row.locator('button[data-action="resume"]');
    const stateIs = (text: string) =>
      page.waitForFunction(
        ([q, t]) => document.querySelector(`td[data-q="${q}"][data-col="paused"]`)?.textContent === t,
        [s.queue, text] as const,
        { timeout: 10_000 },
      );
    expect(await pause.isVisible()).toBe(true);
    expect(await resume.isVisible()).toBe(false);

    await pause.click();
    await stateIs('paused');
    await resume.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await pause.isVisible()).toBe(false);
    expect(await s.control.pauses.isPaused(s.queue)).toBe(true);
    await eventually(async () => {
      const [w] = await s.control.workers.list();
      expect(w?.paused).toBe(true);
    }, LONG);
    const workers = await open('/workers', 'workers');
    await workers.waitForFunction(
      () => document.querySelector('#workers tbody td:nth-child(3)')?.textContent === 'paused',
      undefined,
      {
        timeout: 10_000,
      },
    );
    await shot(workers, 'workers-paused');
    await workers.close();
    // A page loaded while the queue is paused offers Resume only.
    const reloaded = await open('/', 'overview-paused');
    expect(
      await reloaded.locator(`tr[data-queue="${s.queue}"] button[data-action="resume"]`).isVisible(),
    ).toBe(true);
    expect(
      await reloaded.locator(`tr[data-queue="${s.queue}"] button[data-action="pause"]`).isVisible(),
    ).toBe(false);
    await shot(reloaded, 'overview-paused');
    await reloaded.close();

    await resume.click();
    await stateIs('running');
    await pause.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await resume.isVisible()).toBe(false);
    expect(await s.control.pauses.isPaused(s.queue)).toBe(false);

    // Paused elsewhere (the CLI, another dashboard): the live update swaps the buttons too.
    await s.control.pauses.pause(s.queue);
    await stateIs('paused');
    await resume.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await pause.isVisible()).toBe(false);
    await s.control.pauses.resume(s.queue);
    await stateIs('running');
    await pause.waitFor({ state: 'visible', timeout: 10_000 });
    await page.close();
  });

  it('a queue that first appears in a live update gets working pause and resume buttons', async () => {
    const page = await open('/', 'overview-new-queue');
    const late = `${s.queue}_late`;
    expect(await page.locator(`tr[data-queue="${late}"]`).count()).toBe(0);
    // No worker consumes it; its `sent` event makes the dashboard list it in the next update.
    await s.server.send(add.signatureWith({ routingKey: late }, 1, 1));
    const row = page.locator(`tr[data-queue="${late}"]`);
    await row.waitFor({ timeout: 10_000 });
    const pause = row.locator('button[data-action="pause"]');
    const resume = row.locator('button[data-action="resume"]');
    await pause.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await resume.isVisible()).toBe(false);
    await pause.click();
    await resume.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await s.control.pauses.isPaused(late)).toBe(true);
    await shot(page, 'overview-new-queue');
    await resume.click();
    await pause.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await s.control.pauses.isPaused(late)).toBe(false);
    await page.close();
  });

  it('revoke stops a running slow task; its page follows it to FAILURE', async () => {
    const r = await s.server.send(slow.signature(120));
    await eventually(async () => expect((await s.backend.getState(r.taskUUID))?.state).toBe('STARTED'), LONG);
    const page = await open(`/tasks/${r.taskUUID}`, 'task');
    expect(await page.locator('[data-field="state"]').textContent()).toBe('STARTED');
    await page.waitForFunction(
      () => document.querySelector('[data-field="progress"]')?.textContent?.includes('done'),
      undefined,
      {
        timeout: 10_000,
      },
    );
    await shot(page, 'task-running');
    await page.locator('button[data-action="revoke"]').click();
    await page.waitForFunction(
      () => document.querySelector('[data-field="state"]')?.textContent === 'FAILURE',
      undefined,
      {
        timeout: 15_000,
      },
    );
    expect(await page.locator('[data-field="revoked"]').textContent()).toMatch(
      /^yes, .*revoked from the dashboard/,
    );
    await page.waitForSelector('#timeline tr.ev-revoked', { timeout: 10_000 });
    await shot(page, 'task-revoked');
    await page.close();
  });

  it('a dead letter is listed and the requeue button moves it back to its queue', async () => {
    const letter = signature('not_registered_here', ['payload']);
    await s.server.send(letter);
    await eventually(async () => expect(await s.broker.deadLetters()).toHaveLength(1), LONG);
    const page = await open('/dead-letters', 'dead-letters');
    expect(await page.locator('#dead-count').textContent()).toBe('1');
    expect(await page.locator('#dead-letters tbody').textContent()).toContain('not_registered_here');
    await shot(page, 'dead-letters');
    await page.locator('button[data-action="requeue"]').click();
    await page.waitForSelector('#flash:not([hidden])', { timeout: 10_000 });
    expect(await page.locator('#flash').textContent()).toBe('Requeued 1 dead letter.');
    // Requeued, the worker receives it again (and, still unregistered, dead-letters it again).
    await eventually(async () => {
      const t = (await (await fetch(`${s.url}/api/tasks/${letter.uuid}`)).json()) as {
        timeline: { type: string }[];
      };
      expect(t.timeline.filter((e) => e.type === 'deadLettered')).toHaveLength(2);
    }, LONG);
    await page.close();
  });

  it('group and task pages load from a lookup', async () => {
    const g = await s.server.sendGroup(group(add.signature(1, 1), add.signature(2, 2)));
    await Promise.all(g.results.map((r) => r.get({ timeoutMs: 10_000 })));
    const page = await open('/', 'lookup');
    await page.fill('input[name="uuid"]', g.groupUUID);
    await page.locator('form.lookup button').click();
    await page.waitForSelector('#members');
    expect(await page.locator('[data-field="counts"]').textContent()).toBe('2 (2 SUCCESS)');
    await shot(page, 'group');
    await page.locator('#members a').first().click();
    await page.waitForSelector('[data-field="state"]');
    expect(await page.locator('[data-field="state"]').textContent()).toBe('SUCCESS');
    await page.close();
    const groups = await open('/groups', 'groups');
    await shot(groups, 'groups');
    await groups.close();
  });

  // The first-paint times are recorded (test-artifacts/js-size.json and the log), not asserted: a
  // timing assertion fails on a busy machine for reasons that are not the dashboard's.
  it('no page loads more than 200 kB of JavaScript, and each page paints', () => {
    expect(Object.keys(jsBytes).length).toBeGreaterThanOrEqual(5);
    for (const [name, bytes] of Object.entries(jsBytes)) {
      // Every page runs the live script, so a zero would mean the measurement missed it.
      expect(bytes, name).toBeGreaterThan(0);
      expect(bytes, name).toBeLessThan(JS_BUDGET);
    }
    for (const [name, ms] of Object.entries(paints)) {
      expect(ms, name).not.toBeNull();
    }
  });
});
