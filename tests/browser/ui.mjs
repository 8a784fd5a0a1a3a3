// Drives the gateway's web UI in Debian's headless Chromium, for tests/tests/gateway_ui.rs.
//
//   node ui.mjs <page URL> <step> <spec JSON>
//
// Steps:
//   delete-group  the page lists exactly the groups of spec.groups (each a list of label texts,
//                 such as `job="a"`), a family's series open under its row (spec.family and
//                 spec.series), then the Delete button of the group holding spec.delete is
//                 clicked and confirmed, and the reloaded page no longer lists it.
//   wipe          the "Delete all groups" button is clicked and confirmed, and the reloaded
//                 page lists no group.
// Prints one JSON line describing what it saw; exits non-zero with a message on failure.
// SCREENSHOT=<dir> keeps a picture of each page.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, step, specText] = process.argv.slice(2);
const spec = JSON.parse(specText || '{}');
const TIMEOUT = 60_000;

function fail(message) {
  throw new Error(message);
}

// The label texts of every group on the page, in page order.
async function groupsOnPage(page) {
  return page.$$eval('details.group', (groups) =>
    groups.map((g) => [...g.querySelectorAll('.labels .l')].map((l) => l.textContent)));
}

async function shot(page, name) {
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: join(process.env.SCREENSHOT, `${name}.png`), fullPage: true });
  }
}

// Clicks `button`, accepts the confirmation, and waits for the reload that follows.
async function confirmAndReload(page, button) {
  const dialog = page.waitForEvent('dialog', { timeout: TIMEOUT }).then(async (d) => {
    const message = d.message();
    await d.accept();
    return message;
  });
  const reloaded = page.waitForEvent('load', { timeout: TIMEOUT });
  await button.click();
  const message = await dialog;
  await reloaded;
  return message;
}

async function deleteGroup(page) {
  const before = await groupsOnPage(page);
  const want = JSON.stringify([...spec.groups].map((g) => [...g].sort()).sort());
  const got = JSON.stringify(before.map((g) => [...g].sort()).sort());
  if (got !== want) fail(`groups on the page: ${got}, expected ${want}`);

  // A family's series, fetched when its name is clicked.
  const group = page.locator('details.group', {
    has: page.locator('.l', { hasText: spec.family.group }),
  });
  await group.locator('summary').click();
  await group.locator('a.fam', { hasText: new RegExp(`^${spec.family.name}$`) }).click();
  const series = group.locator('tr.series pre');
  await series.filter({ hasText: spec.family.series }).waitFor({ timeout: TIMEOUT });
  const seriesText = await series.textContent();
  await shot(page, 'groups');

  const target = page.locator('details.group', {
    has: page.locator('.l', { hasText: spec.delete }),
  });
  if ((await target.count()) !== 1) fail(`no single group holds ${spec.delete}`);
  const message = await confirmAndReload(page, target.locator('button.del'));
  const after = await groupsOnPage(page);
  if (after.some((g) => g.includes(spec.delete))) fail(`${spec.delete} still listed: ${after}`);
  if (after.length !== before.length - 1) fail(`${after.length} groups left of ${before.length}`);
  await shot(page, 'deleted');
  return { before, after, confirm: message, series: seriesText };
}

async function wipe(page) {
  const before = await groupsOnPage(page);
  const message = await confirmAndReload(page, page.locator('#wipe'));
  const after = await groupsOnPage(page);
  if (after.length !== 0) fail(`groups left after wiping: ${JSON.stringify(after)}`);
  const heading = await page.textContent('h1');
  if (heading !== '0 groups') fail(`heading ${heading}`);
  await shot(page, 'wiped');
  return { before, after, confirm: message };
}

const profile = mkdtempSync(join(tmpdir(), 'nodegate-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: TIMEOUT,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const resp = await page.goto(url, { waitUntil: 'load' });
  if (!resp || resp.status() !== 200) fail(`GET ${url}: ${resp && resp.status()}`);
  let seen;
  if (step === 'delete-group') seen = await deleteGroup(page);
  else if (step === 'wipe') seen = await wipe(page);
  else fail(`unknown step ${step}`);
  if (errors.length) fail(`script errors on the page: ${errors.join('; ')}`);
  console.log(JSON.stringify(seen));
} catch (e) {
  console.error(e.stack || String(e));
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
