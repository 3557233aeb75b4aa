// The dashboard in a real browser (Debian's Chromium through playwright-core)
// against a real host process running the three reference modules, with a
// real HTTP sink behind the gateway: the page asks for the token, shows the
// modules ready, its rate charts move as telemetry flows, a deploy from the
// page adds a module (and replaces and removes it), and a run-once from the
// page shows the program's output.
// It also saves the screenshots the README shows (images/dashboard*.png).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { adminOf, entryOf } from '../support/admin.ts';
import { buildCCommand } from '../support/c-command.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, server, telemetry } from '../support/modules.ts';
import { moduleWasm, root } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';

const REFERENCE = ['telemetry', 'gateway', 'server'];

/** Opens the dashboard, checks that it asks for the token, and gives it. */
async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.locator('#token-input').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#main').isVisible(), false, 'nothing is shown before the token is given');
  await page.locator('#token-input').fill(token);
  await page.locator('#token-form button[type=submit]').click();
  await page.locator('#connection[data-state="live"]').waitFor();
}

const readyCard = (name: string) => `[data-module="${name}"] .state[data-state="ready"]`;

/** The number of points in a module's rate chart, and its last rates. */
function chartOf(page: Page, name: string) {
  return page.locator(`[data-module="${name}"] .chart`).evaluate((el: HTMLElement) => ({
    samples: Number(el.dataset.samples ?? 0),
    lastIn: Number(el.dataset.lastIn ?? 0),
    lastOut: Number(el.dataset.lastOut ?? 0),
  }));
}

test('the dashboard asks for the token, shows the reference modules ready with moving rate charts, and deploys, replaces, removes and runs from the page', async () => {
  const program = buildCCommand();
  const sink = await new HttpSink().listen();
  const mqtt = `127.0.0.1:${await freePort()}`;
  const host = new HostProcess(['--config', writeConfig({ modules: { telemetry: telemetry(), gateway: gateway(sink.url), server: server(mqtt) } })]);
  let browser: Browser | undefined;
  try {
    const admin = await adminOf(host);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('requestfailed', (r) => {
      // The event stream is aborted when the page closes; anything else failing is a fault.
      if (!r.url().endsWith('/v1/events')) problems.push(`request failed: ${r.url()}`);
    });

    await signIn(page, `${admin.url}/`, admin.token);
    for (const name of REFERENCE) await page.locator(readyCard(name)).waitFor({ timeout: 60_000 });

    // The charts move as telemetry flows: telemetry's out rate and the gateway's in rate are
    // above zero, and points keep being added (each a snapshot the host pushed).
    await page.waitForFunction(
      () => {
        const chart = (n: string) => document.querySelector<HTMLElement>(`[data-module="${n}"] .chart`)?.dataset;
        return Number(chart('telemetry')?.lastOut) > 0 && Number(chart('gateway')?.lastIn) > 0;
      },
      undefined,
      { timeout: 30_000 },
    );
    const before = await chartOf(page, 'telemetry');
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('[data-module="telemetry"] .chart')?.dataset.samples) > n, before.samples, {
      timeout: 10_000,
    });
    assert.ok(sink.items().length > 0, 'the gateway delivered to the sink meanwhile');

    // The log tail has the host's lines, and filters them by module.
    await page.locator('#log li', { hasText: 'module gateway ready' }).waitFor();
    await page.locator('#log-module').selectOption('gateway');
    const shown = await page.locator('#log li').allTextContents();
    assert.ok(shown.length > 0 && shown.every((t) => t.includes('[gateway]')), `only gateway lines: ${shown.slice(0, 3).join(' | ')}`);
    await page.locator('#log-module').selectOption('');

    // Deploy from the page: a component file and its module entry make a new module appear.
    const deploy = page.locator('#deploy-form');
    await deploy.locator('input[name=name]').fill('extra');
    await deploy.locator('input[name=component]').setInputFiles(moduleWasm('telemetry'));
    const entry = entryOf(telemetry({ devices: ['extra-1'], 'interval-ms': 200 }));
    await deploy.locator('textarea[name=entry]').fill(JSON.stringify(entry, null, 2));
    await deploy.locator('button[type=submit]').click();
    await page.locator('#deploy-result', { hasText: 'added extra' }).waitFor({ timeout: 60_000 });
    await page.locator(readyCard('extra')).waitFor();

    // Run once from the page: the C program's stdout and how it ended.
    const run = page.locator('#run-form');
    await run.locator('input[name=component]').setInputFiles(program);
    await run.locator('textarea[name=args]').fill('one\ntwo words');
    await run.locator('textarea[name=stdin]').fill('hi\n');
    await run.locator('button[type=submit]').click();
    await page.locator('#run-stdout', { hasText: 'Hello, world!' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#run-stdout').textContent(), 'Hello, world!\nargs: [one] [two words]\nHI\nstdin: 3 bytes, 1 lines\n');
    assert.match((await page.locator('#run-outcome').textContent()) ?? '', /^exited with status 0 in \d+ ms$/);

    // Replace from the page: the card's replace button names the module in the form; the same
    // upload with another entry replaces it, and the card stays.
    await page.locator('[data-module="extra"] button', { hasText: 'replace' }).click();
    assert.equal(await deploy.locator('input[name=name]').inputValue(), 'extra');
    await deploy.locator('textarea[name=entry]').fill(JSON.stringify(entryOf(telemetry({ devices: ['extra-2'], 'interval-ms': 200 })), null, 2));
    await deploy.locator('button[type=submit]').click();
    await page.locator('#deploy-result', { hasText: 'replaced extra' }).waitFor({ timeout: 60_000 });
    await page.locator(readyCard('extra')).waitFor();

    // A few more points, so the screenshot shows lines rather than dots.
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-module="extra"] .chart')?.dataset.samples) >= 3, undefined, {
      timeout: 15_000,
    });
    await page.screenshot({ path: join(root, 'images/dashboard.png'), fullPage: true });

    // A phone: a tab of its own asks for the token again (it is kept per tab), and nothing is wider than the screen.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await signIn(phone, `${admin.url}/`, admin.token);
    for (const name of [...REFERENCE, 'extra']) await phone.locator(readyCard(name)).waitFor();
    await phone.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-module="gateway"] .chart')?.dataset.samples) >= 3, undefined, {
      timeout: 15_000,
    });
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the page is ${width} px wide on a 390 px screen`);
    await phone.screenshot({ path: join(root, 'images/dashboard-phone.png') });

    // Remove from the page, once confirmed: the card goes.
    page.once('dialog', (dialog) => {
      assert.match(dialog.message(), /^Remove module extra\?/);
      void dialog.accept();
    });
    await page.locator('[data-module="extra"] button', { hasText: 'remove' }).click();
    await page.locator('#deploy-result', { hasText: 'removed extra' }).waitFor({ timeout: 60_000 });
    await page.locator('[data-module="extra"]').waitFor({ state: 'detached' });

    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
    host.kill();
    await sink.close();
  }
});
