// Drives the console in Debian's Chromium against a running server.
// Usage: node e2e/run.mjs STEP... ; configuration comes from the environment:
//   COFFER_URL        base URL of the server (http://127.0.0.1:PORT)
//   COFFER_TOKEN      a token for the token sign-in step
//   ROLE_ID, SECRET_ID         AppRole credentials for login-approle
//   DB_MOUNT, DB_ROLE          database engine mount and role for db-creds
//   LEASE_ID                   lease for revoke-lease
//   PREFIX, PREFIX_COUNT       prefix (and how many leases it holds) for revoke-prefix
//   POLICY                     policy to edit in policy-error
//   ARTIFACTS                  directory for screenshots
//   CHROMIUM                   browser binary (default /usr/bin/chromium)
// Prints "RESULT <step> <json>" lines; exits 1 with "FAIL ..." on the first failure.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = process.env;
const base = (env.COFFER_URL || '').replace(/\/+$/, '');
const artifacts = env.ARTIFACTS || join(tmpdir(), 'coffer-ui-artifacts');
const steps = process.argv.slice(2);
if (!base || steps.length === 0) {
  console.error('usage: COFFER_URL=... node e2e/run.mjs STEP...');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const userDir = mkdtempSync(join(tmpdir(), 'coffer-chromium-'));
// A new, empty profile for every run.
const context = await chromium.launchPersistentContext(userDir, {
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1366, height: 900 },
  acceptDownloads: true,
});
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
const page = await context.newPage();
page.setDefaultTimeout(10000);

// The console must work without any other network: every request stays on the server.
const foreign = [];
const consoleErrors = [];
page.on('request', (r) => {
  const u = r.url();
  if (!u.startsWith(base + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
});
page.on('console', (m) => {
  if (m.type() === 'error' && !/status of (4\d\d|503)/.test(m.text())) consoleErrors.push(m.text());
});
page.on('pageerror', (e) => consoleErrors.push(String(e)));

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

function result(step, data) {
  console.log(`RESULT ${step} ${JSON.stringify(data)}`);
}

async function shot(name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

/** Every visible form control has an accessible name. */
async function checkLabels(where) {
  const missing = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  check(missing.length === 0, `${where}: controls without a label: ${missing.join(' | ')}`);
}

async function heading(text) {
  await page.getByRole('heading', { level: 1, name: text }).waitFor();
}

async function nav(label, title) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
  await heading(title);
}

const stepsImpl = {
  async 'login-token'() {
    // Keyboard only: type the token and press Enter.
    await page.goto(base + '/ui/');
    await page.getByLabel('Token', { exact: true }).focus();
    await page.keyboard.type(env.COFFER_TOKEN);
    await checkLabels('login');
    await page.keyboard.press('Enter');
    await heading('Dashboard');
    // Focus goes to the page heading; the skip link moves it to the content.
    const focused = await page.evaluate(() => document.activeElement?.tagName + ' ' + document.activeElement?.textContent?.trim());
    check(focused === 'H1 Dashboard', `focus after sign-in: ${focused}`);
    await page.getByRole('link', { name: 'Skip to content' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'main');
    result('login-token', { ok: true });
  },

  async 'login-approle'() {
    await page.goto(base + '/ui/');
    await page.getByLabel('Method').selectOption('approle');
    await page.getByLabel('Role ID').fill(env.ROLE_ID);
    await page.getByLabel('Secret ID').fill('wrong-' + env.SECRET_ID);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const err = page.getByTestId('error');
    await err.waitFor();
    const bad = await err.textContent();
    await shot('login-approle-error');
    await page.getByLabel('Secret ID').fill(env.SECRET_ID);
    await checkLabels('login');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Dashboard');
    const stored = await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length, cookies: document.cookie }));
    check(stored.session === 1 && stored.local === 0 && stored.cookies === '', `session storage: ${JSON.stringify(stored)}`);
    result('login-approle', { rejected: bad, who: await page.getByTestId('who').textContent() });
  },

  async dashboard() {
    await page.goto(base + '/ui/');
    const dash = page.getByTestId('dashboard');
    await dash.waitFor();
    const active = await page.getByTestId('active-leases').textContent();
    const seal = await page.getByTestId('seal-type').textContent();
    await shot('dashboard');
    result('dashboard', { source: await dash.getAttribute('data-source'), active, seal });
  },

  async pages() {
    await page.goto(base + '/ui/');
    await heading('Dashboard');
    await nav('Secrets', 'Secrets engines');
    await page.getByTestId('mounts').waitFor();
    await page.getByText('Enable a secrets engine').click();
    await checkLabels('secrets');
    await shot('secrets');
    await nav('Policies', 'Policies');
    await page.getByTestId('policies').waitFor();
    await shot('policies');
    await nav('Access', 'Auth methods');
    await page.getByTestId('auth-mounts').waitFor();
    await checkLabels('access');
    await shot('access');
    const approle = page.getByRole('link', { name: 'approle/' });
    if (await approle.count()) {
      await approle.click();
      await heading('AppRole roles');
      await page.getByTestId('approle-roles').getByRole('button').first().click();
      await page.getByTestId('role-id').waitFor();
      await checkLabels('approle');
      await shot('approle');
    }
    await nav('Audit', 'Audit devices');
    await page.waitForSelector('[data-testid="audit-devices"], .warn, [data-testid="error"]');
    await shot('audit');
    await nav('Leases', 'Leases');
    await page.getByTestId('lease-list').waitFor();
    await checkLabels('leases');
    await shot('leases');
    // Unknown client routes get the page, not a server 404.
    await page.goto(base + '/ui/no/such/page');
    await heading('Not found');
    result('pages', { ok: true });
  },

  async kv() {
    await page.goto(base + '/ui/secrets/secret');
    await heading(/secret\//);
    await page.getByRole('button', { name: 'New secret' }).click();
    await page.getByLabel('Path', { exact: true }).fill('app/config');
    await page.getByLabel('Key 1').fill('password');
    await page.getByLabel('Value 1').fill('s3cr3t-from-ui');
    await checkLabels('kv');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const value = page.getByTestId('kv-password');
    await value.waitFor();
    const masked = await value.textContent();
    check(!masked.includes('s3cr3t'), `value shown before reveal: ${masked}`);
    await page.getByRole('button', { name: 'Reveal password' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="kv-password"]')?.textContent === 's3cr3t-from-ui');
    await page.getByRole('button', { name: 'Create new version' }).click();
    await page.getByLabel('Value 1').fill('second');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('button', { name: '2 (current)' }).waitFor();
    await shot('kv');
    result('kv', { versions: await page.getByTestId('kv-versions').locator('tbody tr').count() });
  },

  async 'db-creds'() {
    const mount = env.DB_MOUNT || 'database';
    await page.goto(base + '/ui/secrets');
    await page.getByRole('link', { name: mount + '/', exact: true }).click();
    await heading(new RegExp(mount + '/'));
    await page.locator(`button[data-role="${env.DB_ROLE}"]`).click();
    const creds = page.getByTestId('credentials');
    await creds.waitFor();
    await page.getByTestId('cred-username').waitFor();
    const username = (await page.getByTestId('cred-username').textContent()).trim();
    const masked = await page.getByTestId('cred-password').textContent();
    await page.getByRole('button', { name: 'Reveal password' }).click();
    const password = await page.getByTestId('cred-password').getAttribute('data-value');
    check(password && !masked.includes(password), 'password was not masked before reveal');
    await page.getByRole('button', { name: 'Copy password' }).click();
    await page.getByRole('button', { name: 'Copy password' }).filter({ hasText: 'Copied' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check(copied === password, 'the copied password differs from the one shown');
    const leaseId = (await page.getByTestId('cred-lease').textContent()).trim();
    await shot('database');
    // The connection view and the rotate-root guard.
    await page.getByTestId('connections').getByRole('button').first().click();
    await page.getByTestId('connection-form').waitFor();
    await page.getByRole('button', { name: 'Rotate root…' }).click();
    check(await page.getByRole('button', { name: 'Rotate root credentials' }).isDisabled(), 'rotate-root enabled before confirmation');
    await checkLabels('database');
    await shot('database-connection');
    result('db-creds', { username, password, lease_id: leaseId });
  },

  async pki() {
    const mount = env.PKI_MOUNT || 'pki';
    await page.goto(`${base}/ui/secrets/${mount}`);
    await heading(new RegExp(mount + '/'));
    // Generate a root CA, create a role, issue a certificate and download it.
    await page.getByLabel('Common name').fill('Coffer Console Root');
    await page.getByLabel('TTL', { exact: true }).fill('720h');
    await page.getByRole('button', { name: 'Generate root' }).click();
    await page.getByText('Generated a root CA for Coffer Console Root.').waitFor();
    await page.getByRole('button', { name: 'New role' }).click();
    await page.getByLabel('Name', { exact: true }).fill('web');
    await page.getByLabel('Allowed domains').fill('example.com');
    await page.getByLabel('Allow subdomains').check();
    await page.getByRole('button', { name: 'Save role' }).click();
    await page.getByText('Saved PKI role web.').waitFor();
    await page.getByRole('button', { name: 'Issue certificate' }).click();
    const issue = page.getByTestId('issue');
    await issue.getByLabel('Common name').fill('app.example.com');
    await issue.getByLabel('TTL').fill('1h');
    await checkLabels('pki');
    await issue.getByRole('button', { name: 'Issue', exact: true }).click();
    await issue.locator('pre.pem').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), issue.getByRole('button', { name: 'Download certificate' }).click()]);
    const file = await download.path();
    const { readFileSync } = await import('node:fs');
    const pem = readFileSync(file, 'utf8');
    check(pem.startsWith('-----BEGIN CERTIFICATE-----'), `downloaded ${download.suggestedFilename()}: ${pem.slice(0, 40)}`);
    await shot('pki');
    result('pki', { filename: download.suggestedFilename(), pem });
  },

  async audit() {
    await page.goto(`${base}/ui/audit`);
    await heading('Audit devices');
    await page.getByText('Enable an audit device').click();
    await page.getByLabel('File path').fill(env.AUDIT_FILE);
    await checkLabels('audit');
    await page.getByRole('button', { name: 'Enable', exact: true }).click();
    await page.getByText('Enabled the file audit device at file/.').waitFor();
    const row = page.getByTestId('audit-devices').getByRole('row', { name: /file\// });
    await row.waitFor();
    await shot('audit-enabled');
    result('audit', { row: (await row.textContent()).trim() });
  },

  async 'revoke-lease'() {
    const id = env.LEASE_ID;
    const parent = id.slice(0, id.lastIndexOf('/') + 1);
    await page.goto(`${base}/ui/leases?prefix=${encodeURIComponent(parent)}`);
    const item = page.locator(`button[data-lease-id="${id}"]`);
    await item.click();
    await page.getByTestId('lease-detail').waitFor();
    const ttl = await page.getByTestId('lease-ttl').textContent();
    check(ttl && ttl !== '—', `lease has no TTL: ${ttl}`);
    await page.getByLabel('Increment').fill('30m');
    await page.getByRole('button', { name: 'Renew' }).click();
    await page.getByText(/Renewed: new TTL/).waitFor();
    await shot('lease-detail');
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await page.getByRole('button', { name: 'Revoke lease' }).click();
    await page.getByText(`Lease ${id} revoked.`).waitFor();
    await page.waitForFunction((sel) => !document.querySelector(sel), `button[data-lease-id="${id}"]`);
    // Looking it up again fails.
    await page.getByLabel('Look up a lease ID').fill(id);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByTestId('lease-detail').getByTestId('error').waitFor();
    const gone = await page.getByTestId('lease-detail').getByTestId('error').textContent();
    await shot('lease-revoked');
    result('revoke-lease', { ttl, lookup_after: gone });
  },

  async 'revoke-prefix'() {
    const prefix = env.PREFIX;
    await page.goto(`${base}/ui/leases?prefix=${encodeURIComponent(prefix)}`);
    await page.getByTestId('lease-list').waitFor();
    await page.getByRole('button', { name: `Revoke every lease under ${prefix}…` }).click();
    const count = await page.getByTestId('prefix-count').textContent();
    if (env.PREFIX_COUNT) check(count === env.PREFIX_COUNT, `confirmation counts ${count}, want ${env.PREFIX_COUNT}`);
    const confirm = page.getByTestId('revoke-prefix');
    const go = confirm.getByRole('button', { name: /^Revoke \d+/ });
    await confirm.getByLabel(/to confirm/).fill(prefix.slice(0, -1));
    check(await go.isDisabled(), 'revoke enabled with a wrong confirmation');
    await confirm.getByLabel(/to confirm/).fill(prefix);
    await checkLabels('revoke-prefix');
    await shot('revoke-prefix-confirm');
    check(await go.isEnabled(), 'revoke disabled with the right confirmation');
    await go.click();
    const res = page.getByTestId('revoke-result');
    await res.waitFor({ timeout: 30000 });
    const text = await res.textContent();
    await page.waitForFunction(() => document.querySelectorAll('[data-lease-id]').length === 0);
    await shot('revoke-prefix-done');
    result('revoke-prefix', { confirm_count: count, message: text });
  },

  async 'policy-error'() {
    const name = env.POLICY;
    await page.goto(`${base}/ui/policies/${encodeURIComponent(name)}`);
    await heading(`Policy ${name}`);
    const ta = page.getByLabel('Rules (HCL)');
    await page.waitForFunction(() => document.querySelector('#policy-text')?.value.length > 0);
    const broken = 'path "secret/data/*" {\n  capabilities = ["read"]\n}\npath "sys/*" {\n  capabilities = ["read"\n}\n';
    await ta.fill(broken);
    await page.getByRole('button', { name: 'Save policy' }).click();
    const err = page.getByTestId('policy-error');
    await err.waitFor();
    const text = await err.textContent();
    check((await ta.getAttribute('aria-invalid')) === 'true', 'textarea not marked invalid');
    const described = await ta.getAttribute('aria-describedby');
    check(described === 'policy-error', `error not tied to the textarea: ${described}`);
    await shot('policy-error');
    const fixed = 'path "secret/data/*" {\n  capabilities = ["read"]\n}\npath "sys/mounts" {\n  capabilities = ["read"]\n}\n';
    await ta.fill(fixed);
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText(`Saved policy ${name}.`).waitFor();
    check((await err.count()) === 0, 'error still shown after a good save');
    result('policy-error', { error: text });
  },

  async unseal() {
    await page.goto(base + '/ui/');
    const state = page.getByTestId('seal-state');
    await page.getByText('Not initialised').waitFor();
    await page.getByLabel('Key shares').fill('3');
    await page.getByLabel('Key threshold').fill('2');
    await checkLabels('init');
    await shot('init');
    await page.getByRole('button', { name: 'Initialise' }).click();
    await page.getByTestId('init-keys').waitFor();
    const keys = [];
    for (const i of [1, 2, 3]) {
      await page.getByRole('button', { name: `Reveal key share ${i}` }).click();
      keys.push(await page.getByTestId(`key-${i}`).getAttribute('data-value'));
    }
    await page.getByRole('button', { name: 'Reveal root token' }).click();
    const root = await page.getByTestId('root-token').getAttribute('data-value');
    check(keys.every(Boolean) && root, 'keys or root token missing');
    check((await state.textContent()).startsWith('Sealed'), `state after init: ${await state.textContent()}`);
    await shot('init-keys');
    const key = page.getByLabel('Unseal key share');
    await key.fill(keys[1]);
    await page.getByRole('button', { name: 'Enter key share' }).click();
    await page.getByText('1 of 2 key shares entered').waitFor();
    await page.getByRole('button', { name: 'Start over' }).click();
    await page.getByText('0 of 2 key shares entered').waitFor();
    await key.fill(keys[0]);
    await page.getByRole('button', { name: 'Enter key share' }).click();
    await page.getByText('1 of 2 key shares entered').waitFor();
    await shot('unseal-progress');
    await key.fill(keys[2]);
    await page.getByRole('button', { name: 'Enter key share' }).click();
    await page.getByText('Unsealed', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: 'Sign in with the root token' }).click();
    await heading('Dashboard');
    await page.getByTestId('dashboard').waitFor();
    await shot('unsealed-dashboard');
    result('unseal', { keys, root_token: root });
  },

  async 'sign-out'() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor();
    const left = await page.evaluate(() => sessionStorage.length);
    check(left === 0, `session storage keeps ${left} entries after sign-out`);
    result('sign-out', { ok: true });
  },
};

let code = 0;
try {
  for (const s of steps) {
    const fn = stepsImpl[s];
    if (!fn) throw new Error(`unknown step ${s}`);
    const t0 = Date.now();
    await fn();
    console.log(`STEP ${s} ok ${Date.now() - t0}ms`);
  }
  check(foreign.length === 0, `requests left the server: ${foreign.join(', ')}`);
  check(consoleErrors.length === 0, `console errors: ${consoleErrors.join(' | ')}`);
} catch (e) {
  code = 1;
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
  await shot('failure').catch(() => undefined);
} finally {
  await context.close();
  rmSync(userDir, { recursive: true, force: true });
}
process.exit(code);
