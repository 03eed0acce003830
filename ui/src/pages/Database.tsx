import { useState } from 'preact/hooks';
import type { Envelope } from '../api';
import { CopyButton, ErrorNote, Loading, Notice, SecretValue, TypedConfirm, useAsync } from '../components';
import { useApi } from '../context';
import { formatTTL, parentPath, parseDuration, splitList } from '../format';

interface Connection {
  plugin_name?: string;
  connection_details?: Record<string, unknown>;
  allowed_roles?: string[];
  root_credentials_rotate_statements?: string[];
  verify_connection?: boolean;
}

interface Role {
  db_name?: string;
  creation_statements?: string[];
  revocation_statements?: string[];
  renew_statements?: string[];
  rollback_statements?: string[];
  default_ttl?: number;
  max_ttl?: number;
}

const plugins = ['postgresql-database-plugin', 'mysql-database-plugin', 'mysql-aurora-database-plugin', 'mysql-rds-database-plugin', 'mysql-legacy-database-plugin'];

export function DatabaseEngine({ mount }: { mount: string }) {
  const api = useApi();
  const conns = useAsync(() => api.list(`${mount}config`), [api, mount]);
  const roles = useAsync(() => api.list(`${mount}roles`), [api, mount]);
  const [conn, setConn] = useState<string | null>(null);
  const [role, setRole] = useState<string | null>(null);
  const [creds, setCreds] = useState<{ role: string; n: number } | null>(null);
  const [notice, setNotice] = useState('');
  return (
    <div class="database">
      {notice && <Notice>{notice}</Notice>}
      <div class="grid two">
        <article>
          <header class="title-row">
            <h2>Connections</h2>
            <button type="button" class="secondary outline small" onClick={() => setConn('')}>
              New connection
            </button>
          </header>
          <ErrorNote error={conns.error} />
          {conns.data && (conns.data.length ? (
            <ul class="names" data-testid="connections">
              {conns.data.map((n) => (
                <li key={n}>
                  <button type="button" class="link" onClick={() => { setConn(n); setRole(null); }}>
                    {n}
                  </button>
                </li>
              ))}
            </ul>
          ) : <p>No connections yet.</p>)}
        </article>
        <article>
          <header class="title-row">
            <h2>Roles</h2>
            <button type="button" class="secondary outline small" onClick={() => { setRole(''); setConn(null); }}>
              New role
            </button>
          </header>
          <ErrorNote error={roles.error} />
          {roles.data && (roles.data.length ? (
            <table data-testid="roles">
              <tbody>
                {roles.data.map((n) => (
                  <tr key={n}>
                    <th scope="row">
                      <button type="button" class="link" onClick={() => { setRole(n); setConn(null); }}>
                        {n}
                      </button>
                    </th>
                    <td>
                      <button type="button" class="small" data-role={n} onClick={() => setCreds({ role: n, n: (creds?.n ?? 0) + 1 })}>
                        Generate credentials
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p>No roles yet.</p>)}
        </article>
      </div>
      {creds && <Credentials key={creds.n} mount={mount} role={creds.role} onClose={() => setCreds(null)} />}
      {conn !== null && (
        <ConnectionForm
          key={conn}
          mount={mount}
          name={conn}
          onClose={() => setConn(null)}
          onSaved={(msg) => {
            setNotice(msg);
            conns.reload();
          }}
        />
      )}
      {role !== null && (
        <RoleForm
          key={role}
          mount={mount}
          name={role}
          connections={conns.data ?? []}
          onClose={() => setRole(null)}
          onSaved={(msg) => {
            setNotice(msg);
            roles.reload();
          }}
        />
      )}
    </div>
  );
}

function Credentials({ mount, role, onClose }: { mount: string; role: string; onClose: () => void }) {
  const api = useApi();
  const res = useAsync(() => api.call<{ username?: string; password?: string }>('GET', `${mount}creds/${role}`), [api, mount, role]);
  const env = res.data as Envelope<{ username?: string; password?: string }> | null | undefined;
  return (
    <article data-testid="credentials" aria-labelledby="creds-title">
      <header class="title-row">
        <h2 id="creds-title">Credentials for {role}</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      {res.loading && <Loading what="Creating a database user" />}
      <ErrorNote error={res.error} />
      {env && (
        <>
          <dl class="props">
            <dt>Username</dt>
            <dd>
              <code data-testid="cred-username">{env.data.username}</code> <CopyButton value={env.data.username ?? ''} label="username" />
            </dd>
            <dt>Password</dt>
            <dd>
              <SecretValue value={env.data.password ?? ''} label="password" testid="cred-password" />
            </dd>
            <dt>Lease</dt>
            <dd>
              <a data-testid="cred-lease" href={`/ui/leases?prefix=${encodeURIComponent(parentPath(env.lease_id ?? ''))}&lease=${encodeURIComponent(env.lease_id ?? '')}`}>
                {env.lease_id}
              </a>{' '}
              <CopyButton value={env.lease_id ?? ''} label="lease ID" />
            </dd>
            <dt>TTL</dt>
            <dd>
              {formatTTL(env.lease_duration)} {env.renewable ? '(renewable)' : ''}
            </dd>
          </dl>
          <p class="muted">
            <small>The password is shown only now. Revoke the lease to remove the user from the database.</small>
          </p>
        </>
      )}
    </article>
  );
}

function ConnectionForm({ mount, name, onClose, onSaved }: { mount: string; name: string; onClose: () => void; onSaved: (msg: string) => void }) {
  const api = useApi();
  const isNew = name === '';
  const cur = useAsync(async () => (isNew ? null : await api.read<Connection>(`${mount}config/${name}`)), [api, mount, name]);
  const [form, setForm] = useState<Record<string, string | boolean> | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [rotating, setRotating] = useState(false);
  const c = cur.data;
  const f =
    form ??
    (cur.loading && !isNew
      ? null
      : {
          name,
          plugin_name: c?.plugin_name ?? plugins[0],
          connection_url: String(c?.connection_details?.connection_url ?? ''),
          username: String(c?.connection_details?.username ?? ''),
          password: '',
          allowed_roles: (c?.allowed_roles ?? []).join(', '),
          verify_connection: c?.verify_connection ?? true,
        });
  const set = (k: string, v: string | boolean) => setForm({ ...(f ?? {}), [k]: v });
  return (
    <article data-testid="connection-form">
      <header class="title-row">
        <h2>{isNew ? 'New connection' : `Connection ${name}`}</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      <ErrorNote error={cur.error} />
      {!f && <Loading />}
      {f && (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            const body: Record<string, unknown> = {
              plugin_name: f.plugin_name,
              connection_url: f.connection_url,
              username: f.username,
              allowed_roles: splitList(String(f.allowed_roles)),
              verify_connection: f.verify_connection,
            };
            if (f.password) body.password = f.password;
            try {
              const n = String(f.name).trim();
              await api.write(`${mount}config/${n}`, body);
              onSaved(`Saved connection ${n}.`);
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <div class="grid">
            <label>
              Name
              <input name="name" required readOnly={!isNew} value={String(f.name)} onInput={(e) => set('name', e.currentTarget.value)} />
            </label>
            <label>
              Plugin
              <select name="plugin_name" value={String(f.plugin_name)} onChange={(e) => set('plugin_name', e.currentTarget.value)}>
                {plugins.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
          </div>
          <label>
            Connection URL
            <input name="connection_url" required placeholder="postgresql://{{username}}:{{password}}@db:5432/postgres" value={String(f.connection_url)} onInput={(e) => set('connection_url', e.currentTarget.value)} />
          </label>
          <div class="grid">
            <label>
              Username
              <input name="username" autocomplete="off" value={String(f.username)} onInput={(e) => set('username', e.currentTarget.value)} />
            </label>
            <label>
              Password
              <input name="password" type="password" autocomplete="new-password" placeholder={isNew ? '' : 'unchanged'} value={String(f.password)} onInput={(e) => set('password', e.currentTarget.value)} />
            </label>
          </div>
          <label>
            Allowed roles
            <input name="allowed_roles" placeholder="readonly, app-*" value={String(f.allowed_roles)} onInput={(e) => set('allowed_roles', e.currentTarget.value)} />
          </label>
          <label>
            <input type="checkbox" name="verify_connection" role="switch" checked={Boolean(f.verify_connection)} onChange={(e) => set('verify_connection', e.currentTarget.checked)} />
            Verify the connection when saving
          </label>
          <ErrorNote error={error} />
          <button type="submit" disabled={busy} aria-busy={busy ? 'true' : undefined}>
            Save connection
          </button>
        </form>
      )}
      {!isNew && c && (
        <section class="danger-zone">
          <h3>Rotate the root credentials</h3>
          <p>Sets a new random password for {String(c.connection_details?.username ?? 'the configured user')} that only Coffer knows. Anything else using that password stops working.</p>
          {!rotating ? (
            <button type="button" class="danger outline" onClick={() => setRotating(true)}>
              Rotate root…
            </button>
          ) : (
            <TypedConfirm
              phrase={name}
              action="Rotate root credentials"
              busy={busy}
              onCancel={() => setRotating(false)}
              onConfirm={async () => {
                setBusy(true);
                setError(null);
                try {
                  await api.write(`${mount}rotate-root/${name}`);
                  setRotating(false);
                  onSaved(`Rotated the root credentials of ${name}.`);
                } catch (err) {
                  setError(err);
                } finally {
                  setBusy(false);
                }
              }}
            />
          )}
        </section>
      )}
    </article>
  );
}

const stmtFields: [keyof Role, string][] = [
  ['creation_statements', 'Creation statements'],
  ['revocation_statements', 'Revocation statements'],
  ['renew_statements', 'Renew statements'],
  ['rollback_statements', 'Rollback statements'],
];

function RoleForm({ mount, name, connections, onClose, onSaved }: { mount: string; name: string; connections: string[]; onClose: () => void; onSaved: (msg: string) => void }) {
  const api = useApi();
  const isNew = name === '';
  const cur = useAsync(async () => (isNew ? null : await api.read<Role>(`${mount}roles/${name}`)), [api, mount, name]);
  const [form, setForm] = useState<Record<string, string> | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const r = cur.data;
  const f: Record<string, string> | null =
    form ??
    (cur.loading && !isNew
      ? null
      : {
          name,
          db_name: r?.db_name ?? connections[0] ?? '',
          default_ttl: r?.default_ttl ? `${r.default_ttl}s` : '',
          max_ttl: r?.max_ttl ? `${r.max_ttl}s` : '',
          ...Object.fromEntries(stmtFields.map(([k]) => [k, ((r?.[k] as string[] | undefined) ?? []).join('\n')])),
        });
  const set = (k: string, v: string) => setForm({ ...(f ?? {}), [k]: v });
  const bad = (v: string) => v.trim() !== '' && parseDuration(v) === null;
  return (
    <article data-testid="role-form">
      <header class="title-row">
        <h2>{isNew ? 'New role' : `Role ${name}`}</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      <ErrorNote error={cur.error} />
      {!f && <Loading />}
      {f && (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            const body: Record<string, unknown> = { db_name: f.db_name, default_ttl: f.default_ttl.trim() || '0', max_ttl: f.max_ttl.trim() || '0' };
            for (const [k] of stmtFields) body[k] = f[k].trim() ? f[k] : [];
            try {
              const n = f.name.trim();
              await api.write(`${mount}roles/${n}`, body);
              onSaved(`Saved role ${n}.`);
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <div class="grid">
            <label>
              Name
              <input name="name" required readOnly={!isNew} value={f.name} onInput={(e) => set('name', e.currentTarget.value)} />
            </label>
            <label>
              Connection
              <select name="db_name" value={f.db_name} onChange={(e) => set('db_name', e.currentTarget.value)}>
                {[...new Set([f.db_name, ...connections].filter(Boolean))].map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
          </div>
          <div class="grid">
            <label>
              Default TTL
              <input name="default_ttl" placeholder="mount default" value={f.default_ttl} aria-invalid={bad(f.default_ttl) ? 'true' : undefined} onInput={(e) => set('default_ttl', e.currentTarget.value)} />
            </label>
            <label>
              Max TTL
              <input name="max_ttl" placeholder="mount default" value={f.max_ttl} aria-invalid={bad(f.max_ttl) ? 'true' : undefined} onInput={(e) => set('max_ttl', e.currentTarget.value)} />
            </label>
          </div>
          {stmtFields.map(([k, label]) => (
            <label key={k}>
              {label}
              <textarea name={k} rows={k === 'creation_statements' ? 4 : 2} spellcheck={false} class="code" value={f[k]} onInput={(e) => set(k, e.currentTarget.value)} />
            </label>
          ))}
          <small>
            Templates: <code>{'{{name}}'}</code>, <code>{'{{password}}'}</code>, <code>{'{{expiration}}'}</code>. Separate statements with semicolons.
          </small>
          <ErrorNote error={error} />
          <button type="submit" disabled={busy || bad(f.default_ttl) || bad(f.max_ttl)} aria-busy={busy ? 'true' : undefined}>
            Save role
          </button>
        </form>
      )}
    </article>
  );
}
