import { useState } from 'preact/hooks';
import type { Api } from '../api';
import { ErrorNote, Loading, Notice, PageTitle, TypedConfirm, useAsync } from '../components';
import { useApi } from '../context';
import { formatTTL, normaliseMount, parseDuration } from '../format';

export interface Mount {
  path: string;
  type: string;
  description: string;
  accessor?: string;
  config?: { default_lease_ttl?: number; max_lease_ttl?: number };
  options?: Record<string, string> | null;
}

export async function loadMounts(api: Api, table: 'mounts' | 'auth' = 'mounts'): Promise<Mount[]> {
  const data = (await api.read<Record<string, unknown>>(`sys/${table}`)) ?? {};
  return Object.entries(data)
    .filter(([k, v]) => k.endsWith('/') && v && typeof v === 'object')
    .map(([path, v]) => ({ path, ...(v as Omit<Mount, 'path'>) }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

export const engineTypes: [string, string][] = [
  ['database', 'Database (PostgreSQL, MySQL)'],
  ['kv-v2', 'KV version 2'],
  ['kv', 'KV version 1'],
  ['pki', 'PKI certificates'],
  ['aws', 'AWS'],
  ['transit', 'Transit encryption'],
];

export function mountHref(path: string): string {
  return `/ui/secrets/${encodeURIComponent(path.replace(/\/$/, ''))}`;
}

export function EnginesPage() {
  const api = useApi();
  const mounts = useAsync(() => loadMounts(api), [api]);
  const [notice, setNotice] = useState('');
  const [tuning, setTuning] = useState<Mount | null>(null);
  return (
    <section>
      <PageTitle>Secrets engines</PageTitle>
      {notice && <Notice>{notice}</Notice>}
      <ErrorNote error={mounts.error} />
      {mounts.loading && !mounts.data && <Loading />}
      {mounts.data && (
        <table data-testid="mounts">
          <thead>
            <tr>
              <th scope="col">Path</th>
              <th scope="col">Type</th>
              <th scope="col">Default TTL</th>
              <th scope="col">Max TTL</th>
              <th scope="col">Description</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {mounts.data.map((m) => (
              <tr key={m.path}>
                <td>
                  <a href={mountHref(m.path)}>{m.path}</a>
                </td>
                <td>
                  {m.type}
                  {m.options?.version ? ` v${m.options.version}` : ''}
                </td>
                <td>{formatTTL(m.config?.default_lease_ttl, true).replace('never', 'system')}</td>
                <td>{formatTTL(m.config?.max_lease_ttl, true).replace('never', 'system')}</td>
                <td>{m.description}</td>
                <td>
                  {!['sys', 'cubbyhole', 'identity'].includes(m.type) && (
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
          table="mounts"
          mount={tuning}
          onClose={() => setTuning(null)}
          onDone={(msg) => {
            setNotice(msg);
            setTuning(null);
            mounts.reload();
          }}
        />
      )}
      <EnableForm
        table="mounts"
        types={engineTypes}
        onDone={(msg) => {
          setNotice(msg);
          mounts.reload();
        }}
      />
    </section>
  );
}

/** Enables a secrets engine or an auth method. */
export function EnableForm({ table, types, onDone }: { table: 'mounts' | 'auth'; types: [string, string][]; onDone: (msg: string) => void }) {
  const api = useApi();
  const [type, setType] = useState(types[0][0]);
  const [path, setPath] = useState('');
  const [description, setDescription] = useState('');
  const [defTTL, setDefTTL] = useState('');
  const [maxTTL, setMaxTTL] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const badTTL = (v: string) => v.trim() !== '' && parseDuration(v) === null;
  const what = table === 'mounts' ? 'secrets engine' : 'auth method';
  return (
    <details class="panel">
      <summary role="button" class="secondary outline">
        Enable a {what}
      </summary>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          const realType = type === 'kv-v2' ? 'kv' : type;
          const p = normaliseMount(path || realType);
          const body: Record<string, unknown> = { type: realType, description };
          const config: Record<string, string> = {};
          if (defTTL.trim()) config.default_lease_ttl = defTTL.trim();
          if (maxTTL.trim()) config.max_lease_ttl = maxTTL.trim();
          if (Object.keys(config).length) body.config = config;
          if (type === 'kv-v2') body.options = { version: '2' };
          try {
            await api.write(`sys/${table}/${p}`, body);
            onDone(`Enabled ${realType} at ${p}.`);
            setPath('');
            setDescription('');
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="grid">
          <label>
            Type
            <select name="type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
              {types.map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <label>
            Path
            <input name="path" placeholder={type === 'kv-v2' ? 'kv' : type} value={path} onInput={(e) => setPath(e.currentTarget.value)} />
          </label>
        </div>
        <label>
          Description
          <input name="description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <div class="grid">
          <label>
            Default lease TTL
            <input name="default_lease_ttl" placeholder="e.g. 1h" value={defTTL} aria-invalid={badTTL(defTTL) ? 'true' : undefined} onInput={(e) => setDefTTL(e.currentTarget.value)} />
          </label>
          <label>
            Max lease TTL
            <input name="max_lease_ttl" placeholder="e.g. 24h" value={maxTTL} aria-invalid={badTTL(maxTTL) ? 'true' : undefined} onInput={(e) => setMaxTTL(e.currentTarget.value)} />
          </label>
        </div>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy || badTTL(defTTL) || badTTL(maxTTL)} aria-busy={busy ? 'true' : undefined}>
          Enable
        </button>
      </form>
    </details>
  );
}

/** Tunes TTLs and the description of a mount; also disables it after a typed confirmation. */
export function TuneForm({ table, mount, onClose, onDone }: { table: 'mounts' | 'auth'; mount: Mount; onClose: () => void; onDone: (msg: string) => void }) {
  const api = useApi();
  const base = table === 'mounts' ? 'sys/mounts' : 'sys/auth';
  const cur = useAsync(() => api.read<{ default_lease_ttl?: number; max_lease_ttl?: number; description?: string }>(`${base}/${mount.path}tune`), [api, mount.path]);
  const [defTTL, setDefTTL] = useState<string | null>(null);
  const [maxTTL, setMaxTTL] = useState<string | null>(null);
  const [disable, setDisable] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const defVal = defTTL ?? (cur.data?.default_lease_ttl ? `${cur.data.default_lease_ttl}s` : '');
  const maxVal = maxTTL ?? (cur.data?.max_lease_ttl ? `${cur.data.max_lease_ttl}s` : '');
  const badTTL = (v: string) => v.trim() !== '' && parseDuration(v) === null;
  return (
    <article data-testid="tune">
      <header class="title-row">
        <h2>Tune {mount.path}</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      <ErrorNote error={cur.error} />
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await api.write(`${base}/${mount.path}tune`, { default_lease_ttl: defVal.trim() || '0', max_lease_ttl: maxVal.trim() || '0' });
            onDone(`Tuned ${mount.path}.`);
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="grid">
          <label>
            Default lease TTL
            <input name="default_lease_ttl" placeholder="system default" value={defVal} aria-invalid={badTTL(defVal) ? 'true' : undefined} onInput={(e) => setDefTTL(e.currentTarget.value)} />
          </label>
          <label>
            Max lease TTL
            <input name="max_lease_ttl" placeholder="system default" value={maxVal} aria-invalid={badTTL(maxVal) ? 'true' : undefined} onInput={(e) => setMaxTTL(e.currentTarget.value)} />
          </label>
        </div>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy || badTTL(defVal) || badTTL(maxVal)}>
          Save
        </button>
      </form>
      {!disable ? (
        <button type="button" class="danger outline" onClick={() => setDisable(true)}>
          Disable {mount.path}…
        </button>
      ) : (
        <TypedConfirm
          phrase={mount.path}
          action={`Disable ${mount.path}`}
          busy={busy}
          onCancel={() => setDisable(false)}
          onConfirm={async () => {
            setBusy(true);
            setError(null);
            try {
              await api.remove(`${base}/${mount.path}`);
              onDone(`Disabled ${mount.path}; its leases were revoked.`);
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          }}
        >
          <p>Disabling revokes every lease issued by {mount.path} and deletes its data.</p>
        </TypedConfirm>
      )}
    </article>
  );
}
