import { useState } from 'preact/hooks';
import { CopyButton, ErrorNote, Loading, Notice, PageTitle, SecretValue, TypedConfirm, useAsync } from '../components';
import { useApi } from '../context';
import { formatTTL, parseDuration, splitList } from '../format';
import { EnableForm, loadMounts, TuneForm, type Mount } from './Engines';

const authTypes: [string, string][] = [
  ['approle', 'AppRole'],
  ['userpass', 'Username and password'],
];

export function AccessPage() {
  const api = useApi();
  const mounts = useAsync(() => loadMounts(api, 'auth'), [api]);
  const [notice, setNotice] = useState('');
  const [tuning, setTuning] = useState<Mount | null>(null);
  return (
    <section>
      <PageTitle>Auth methods</PageTitle>
      {notice && <Notice>{notice}</Notice>}
      <ErrorNote error={mounts.error} />
      {mounts.loading && !mounts.data && <Loading />}
      {mounts.data && (
        <table data-testid="auth-mounts">
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col">Type</th>
              <th scope="col">Accessor</th>
              <th scope="col">Description</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {mounts.data.map((m) => (
              <tr key={m.path}>
                <td>{m.type === 'approle' ? <a href={`/ui/access/approle/${encodeURIComponent(m.path.replace(/\/$/, ''))}`}>{m.path}</a> : m.path}</td>
                <td>{m.type}</td>
                <td>
                  <code>{m.accessor}</code>
                </td>
                <td>{m.description}</td>
                <td>
                  {m.type !== 'token' && (
                    <button type="button" class="secondary outline small" aria-label={`Tune ${m.path}`} onClick={() => setTuning(m)}>
                      Tune
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {tuning && (
        <TuneForm
          key={tuning.path}
          table="auth"
          mount={tuning}
          onClose={() => setTuning(null)}
          onDone={(m) => {
            setNotice(m);
            setTuning(null);
            mounts.reload();
          }}
        />
      )}
      <EnableForm
        table="auth"
        types={authTypes}
        onDone={(m) => {
          setNotice(m);
          mounts.reload();
        }}
      />
    </section>
  );
}

interface RoleData {
  token_policies?: string[];
  token_ttl?: number;
  token_max_ttl?: number;
  secret_id_ttl?: number;
  secret_id_num_uses?: number;
  bind_secret_id?: boolean;
  secret_id_bound_cidrs?: string[];
  token_bound_cidrs?: string[];
}

export function AppRolePage({ mount: raw }: { mount: string }) {
  const api = useApi();
  const mount = `auth/${raw.replace(/\/+$/, '')}/`;
  const roles = useAsync(() => api.list(`${mount}role`), [api, mount]);
  const [role, setRole] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  return (
    <section>
      <nav aria-label="Breadcrumb" class="crumbs">
        <ul>
          <li>
            <a href="/ui/access">Access</a>
          </li>
          <li>
            <a href={location.pathname} aria-current="page">
              {mount}
            </a>
          </li>
        </ul>
      </nav>
      <div class="title-row">
        <PageTitle>AppRole roles</PageTitle>
        <button type="button" class="secondary outline small" onClick={() => setRole('')}>
          New role
        </button>
      </div>
      {notice && <Notice>{notice}</Notice>}
      <ErrorNote error={roles.error} />
      {roles.data && (roles.data.length ? (
        <ul class="names" data-testid="approle-roles">
          {roles.data.map((n) => (
            <li key={n}>
              <button type="button" class="link" onClick={() => setRole(n)}>
                {n}
              </button>
            </li>
          ))}
        </ul>
      ) : <p>No roles yet.</p>)}
      {role !== null && (
        <AppRoleForm
          key={role}
          mount={mount}
          name={role}
          onClose={() => setRole(null)}
          onSaved={(m) => {
            setNotice(m);
            roles.reload();
          }}
        />
      )}
    </section>
  );
}

function AppRoleForm({ mount, name, onClose, onSaved }: { mount: string; name: string; onClose: () => void; onSaved: (m: string) => void }) {
  const api = useApi();
  const isNew = name === '';
  const cur = useAsync(async () => (isNew ? null : await api.read<RoleData>(`${mount}role/${name}`)), [api, mount, name]);
  const roleId = useAsync(async () => (isNew ? null : (await api.read<{ role_id?: string }>(`${mount}role/${name}/role-id`))?.role_id ?? null), [api, mount, name]);
  const [form, setForm] = useState<Record<string, string | boolean> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<{ secret_id: string; secret_id_accessor: string } | null>(null);
  const [deleting, setDeleting] = useState(false);
  const r = cur.data;
  const dur = (n?: number) => (n ? `${n}s` : '');
  const f =
    form ??
    (cur.loading && !isNew
      ? null
      : {
          name,
          token_policies: (r?.token_policies ?? []).join(', '),
          token_ttl: dur(r?.token_ttl),
          token_max_ttl: dur(r?.token_max_ttl),
          secret_id_ttl: dur(r?.secret_id_ttl),
          secret_id_num_uses: String(r?.secret_id_num_uses ?? 0),
          secret_id_bound_cidrs: (r?.secret_id_bound_cidrs ?? []).join(', '),
          bind_secret_id: r?.bind_secret_id ?? true,
        });
  const set = (k: string, v: string | boolean) => setForm({ ...(f ?? {}), [k]: v });
  const bad = (v: unknown) => typeof v === 'string' && v.trim() !== '' && parseDuration(v) === null;
  return (
    <article data-testid="approle-form">
      <header class="title-row">
        <h2>{isNew ? 'New AppRole role' : `Role ${name}`}</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      <ErrorNote error={cur.error} />
      {!isNew && roleId.data && (
        <p>
          Role ID: <code data-testid="role-id">{roleId.data}</code> <CopyButton value={roleId.data} label="role ID" />
        </p>
      )}
      {!isNew && (
        <div class="row">
          <button
            type="button"
            onClick={async () => {
              setError(null);
              try {
                const env = await api.write<{ secret_id: string; secret_id_accessor: string }>(`${mount}role/${name}/secret-id`);
                setSecret(env?.data ?? null);
              } catch (err) {
                setError(err);
              }
            }}
          >
            Generate secret ID
          </button>
          {secret && (
            <span>
              <SecretValue value={secret.secret_id} label="secret ID" testid="secret-id" /> <small class="muted">accessor {secret.secret_id_accessor}</small>
            </span>
          )}
        </div>
      )}
      {!f && <Loading />}
      {f && (
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const n = String(f.name).trim();
              await api.write(`${mount}role/${n}`, {
                token_policies: splitList(String(f.token_policies)),
                token_ttl: String(f.token_ttl) || '0',
                token_max_ttl: String(f.token_max_ttl) || '0',
                secret_id_ttl: String(f.secret_id_ttl) || '0',
                secret_id_num_uses: Number(f.secret_id_num_uses) || 0,
                secret_id_bound_cidrs: splitList(String(f.secret_id_bound_cidrs)),
                bind_secret_id: f.bind_secret_id,
              });
              onSaved(`Saved AppRole role ${n}.`);
            } catch (err) {
              setError(err);
            }
          }}
        >
          <div class="grid">
            <label>
              Name
              <input name="name" required readOnly={!isNew} value={String(f.name)} onInput={(e) => set('name', e.currentTarget.value)} />
            </label>
            <label>
              Token policies
              <input name="token_policies" placeholder="default, app" value={String(f.token_policies)} onInput={(e) => set('token_policies', e.currentTarget.value)} />
            </label>
          </div>
          <div class="grid">
            {(['token_ttl', 'token_max_ttl', 'secret_id_ttl'] as const).map((k) => (
              <label key={k}>
                {{ token_ttl: 'Token TTL', token_max_ttl: 'Token max TTL', secret_id_ttl: 'Secret ID TTL' }[k]}
                <input name={k} placeholder={r?.[k] === undefined ? 'default' : formatTTL(r?.[k], true)} value={String(f[k])} aria-invalid={bad(f[k]) ? 'true' : undefined} onInput={(e) => set(k, e.currentTarget.value)} />
              </label>
            ))}
          </div>
          <div class="grid">
            <label>
              Secret ID uses (0: unlimited)
              <input name="secret_id_num_uses" type="number" min={0} value={String(f.secret_id_num_uses)} onInput={(e) => set('secret_id_num_uses', e.currentTarget.value)} />
            </label>
            <label>
              Secret ID bound CIDRs
              <input name="secret_id_bound_cidrs" placeholder="10.0.0.0/8" value={String(f.secret_id_bound_cidrs)} onInput={(e) => set('secret_id_bound_cidrs', e.currentTarget.value)} />
            </label>
          </div>
          <label>
            <input type="checkbox" name="bind_secret_id" role="switch" checked={Boolean(f.bind_secret_id)} onChange={(e) => set('bind_secret_id', e.currentTarget.checked)} />
            Require a secret ID to log in
          </label>
          <ErrorNote error={error} />
          <button type="submit" disabled={['token_ttl', 'token_max_ttl', 'secret_id_ttl'].some((k) => bad(f[k]))}>
            Save role
          </button>
        </form>
      )}
      {!isNew &&
        (!deleting ? (
          <button type="button" class="danger outline" onClick={() => setDeleting(true)}>
            Delete role…
          </button>
        ) : (
          <TypedConfirm
            phrase={name}
            action="Delete role"
            onCancel={() => setDeleting(false)}
            onConfirm={async () => {
              try {
                await api.remove(`${mount}role/${name}`);
                onSaved(`Deleted AppRole role ${name}.`);
                onClose();
              } catch (err) {
                setError(err);
              }
            }}
          />
        ))}
    </article>
  );
}
