import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { ErrorNote, Loading, Notice, SecretValue, useAsync } from '../components';
import { useApi } from '../context';
import { formatTime, joinPath, parentPath } from '../format';
import { mountHref } from './Engines';

interface KvData {
  data: Record<string, unknown> | null;
  metadata?: { version?: number; created_time?: string; deletion_time?: string; destroyed?: boolean } | null;
}

interface KvMeta {
  current_version?: number;
  versions?: Record<string, { created_time?: string; deletion_time?: string; destroyed?: boolean }>;
}

/** Browses, reads (values masked until revealed), writes and lists versions of KV secrets. */
export function KvEngine({ mount, version }: { mount: string; version: 1 | 2 }) {
  const api = useApi();
  const { query, route } = useLocation();
  const path = query.path ?? '';
  const isFolder = path === '' || path.endsWith('/');
  const base = mountHref(mount);
  const go = (p: string) => route(`${base}?path=${encodeURIComponent(p)}`);
  const listPath = version === 2 ? `${mount}metadata/${path}` : `${mount}${path}`;
  const keys = useAsync(async () => (isFolder ? api.list(listPath) : []), [api, listPath, isFolder]);
  const [creating, setCreating] = useState(false);
  const [notice, setNotice] = useState('');
  return (
    <div class="kv">
      {notice && <Notice>{notice}</Notice>}
      <nav aria-label="Secret path" class="crumbs">
        <ul>
          <li>
            <a href={base} onClick={(e) => { e.preventDefault(); go(''); }}>
              {mount}
            </a>
          </li>
          {path.split('/').filter(Boolean).map((seg, i, all) => {
            const p = all.slice(0, i + 1).join('/') + (i < all.length - 1 || path.endsWith('/') ? '/' : '');
            return (
              <li key={p}>
                <a href={`${base}?path=${encodeURIComponent(p)}`} onClick={(e) => { e.preventDefault(); go(p); }}>
                  {seg}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      {isFolder && (
        <>
          <ErrorNote error={keys.error} />
          {keys.loading && <Loading />}
          {keys.data && (
            <ul class="names" data-testid="kv-keys">
              {path && (
                <li>
                  <a href={`${base}?path=${encodeURIComponent(parentPath(path))}`} onClick={(e) => { e.preventDefault(); go(parentPath(path)); }}>
                    ..
                  </a>
                </li>
              )}
              {keys.data.map((k) => (
                <li key={k}>
                  <a href={`${base}?path=${encodeURIComponent(joinPath(path, k))}`} onClick={(e) => { e.preventDefault(); go(joinPath(path, k)); }}>
                    {k}
                  </a>
                </li>
              ))}
              {keys.data.length === 0 && <li>No secrets here.</li>}
            </ul>
          )}
          {!creating ? (
            <button type="button" class="secondary" onClick={() => setCreating(true)}>
              New secret
            </button>
          ) : (
            <KvWrite
              mount={mount}
              version={version}
              folder={path}
              initial={{}}
              onCancel={() => setCreating(false)}
              onSaved={(p) => {
                setCreating(false);
                setNotice(`Saved ${p}.`);
                go(p);
              }}
            />
          )}
        </>
      )}
      {!isFolder && <KvSecret key={path} mount={mount} version={version} path={path} onSaved={(p) => setNotice(`Saved a new version of ${p}.`)} />}
    </div>
  );
}

function KvSecret({ mount, version, path, onSaved }: { mount: string; version: 1 | 2; path: string; onSaved: (p: string) => void }) {
  const api = useApi();
  const [ver, setVer] = useState<number | null>(null);
  const [editing, setEditing] = useState(false);
  const secret = useAsync(async () => {
    if (version === 1) return { data: (await api.read(`${mount}${path}`)) ?? null } as KvData;
    return (await api.read<KvData>(`${mount}data/${path}`, ver ? { version: String(ver) } : undefined)) ?? { data: null };
  }, [api, mount, path, ver]);
  const meta = useAsync(async () => (version === 2 ? await api.read<KvMeta>(`${mount}metadata/${path}`) : null), [api, mount, path, version]);
  const d = secret.data;
  return (
    <article data-testid="kv-secret">
      <header class="title-row">
        <h2>{path}</h2>
        {d?.metadata?.version ? <small class="muted">version {d.metadata.version}</small> : null}
      </header>
      <ErrorNote error={secret.error} />
      {secret.loading && <Loading />}
      {d && d.data === null && <p>{d.metadata?.deletion_time ? `This version was deleted on ${formatTime(d.metadata.deletion_time)}.` : 'No data.'}</p>}
      {d?.data && !editing && (
        <table>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(d.data).map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td>
                  <SecretValue value={typeof v === 'string' ? v : JSON.stringify(v)} label={k} testid={`kv-${k}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!editing && (
        <button type="button" class="secondary" onClick={() => setEditing(true)}>
          {version === 2 ? 'Create new version' : 'Edit'}
        </button>
      )}
      {editing && (
        <KvWrite
          mount={mount}
          version={version}
          folder={parentPath(path)}
          fixedPath={path}
          initial={d?.data ?? {}}
          onCancel={() => setEditing(false)}
          onSaved={(p) => {
            setEditing(false);
            setVer(null);
            secret.reload();
            meta.reload();
            onSaved(p);
          }}
        />
      )}
      {meta.data?.versions && (
        <section>
          <h3>Versions</h3>
          <table data-testid="kv-versions">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(meta.data.versions)
                .sort(([a], [b]) => Number(b) - Number(a))
                .map(([n, v]) => (
                  <tr key={n}>
                    <td>
                      <button type="button" class="link" aria-pressed={(ver ?? meta.data!.current_version) === Number(n)} onClick={() => setVer(Number(n))}>
                        {n}
                        {Number(n) === meta.data!.current_version ? ' (current)' : ''}
                      </button>
                    </td>
                    <td>{formatTime(v.created_time)}</td>
                    <td>{v.destroyed ? 'destroyed' : v.deletion_time ? 'deleted' : 'active'}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </section>
      )}
    </article>
  );
}

function KvWrite(props: { mount: string; version: 1 | 2; folder: string; fixedPath?: string; initial: Record<string, unknown>; onCancel: () => void; onSaved: (path: string) => void }) {
  const api = useApi();
  const [name, setName] = useState('');
  const [rows, setRows] = useState<[string, string][]>(() => {
    const r = Object.entries(props.initial).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as [string, string]);
    return r.length ? r : [['', '']];
  });
  const [error, setError] = useState<unknown>(null);
  const setRow = (i: number, j: 0 | 1, v: string) => setRows(rows.map((r, x) => (x === i ? ((j === 0 ? [v, r[1]] : [r[0], v]) as [string, string]) : r)));
  return (
    <form
      class="kv-write"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        const p = props.fixedPath ?? joinPath(props.folder, name.trim());
        const data = Object.fromEntries(rows.filter(([k]) => k.trim()).map(([k, v]) => [k.trim(), v]));
        try {
          if (props.version === 2) await api.write(`${props.mount}data/${p}`, { data });
          else await api.write(`${props.mount}${p}`, data);
          props.onSaved(p);
        } catch (err) {
          setError(err);
        }
      }}
    >
      {!props.fixedPath && (
        <label>
          Path
          <input name="secret_path" required placeholder="app/config" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
      )}
      <fieldset>
        <legend>Data</legend>
        {rows.map(([k, v], i) => (
          <div class="grid kv-row" key={i}>
            <input aria-label={`Key ${i + 1}`} placeholder="key" value={k} onInput={(e) => setRow(i, 0, e.currentTarget.value)} />
            <input aria-label={`Value ${i + 1}`} type="password" autocomplete="off" placeholder="value" value={v} onInput={(e) => setRow(i, 1, e.currentTarget.value)} />
            <button type="button" class="secondary outline small" aria-label={`Remove row ${i + 1}`} onClick={() => setRows(rows.filter((_, x) => x !== i))}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" class="secondary outline small" onClick={() => setRows([...rows, ['', '']])}>
          Add a key
        </button>
      </fieldset>
      <ErrorNote error={error} />
      <div class="row">
        <button type="submit">Save</button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
