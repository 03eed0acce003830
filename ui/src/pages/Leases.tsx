import { useLocation } from 'preact-iso';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api } from '../api';
import { ErrorNote, Loading, Notice, PageTitle, TypedConfirm, useAsync } from '../components';
import { useApi } from '../context';
import { formatTime, formatTTL, joinPath, num, parentPath } from '../format';

export interface LeaseInfo {
  id: string;
  issue_time: string;
  expire_time: string | null;
  last_renewal: string | null;
  renewable: boolean;
  ttl: number;
}

/** Walks the lease tree under a prefix, counting lease IDs, up to a limit. */
export async function countUnder(api: Api, prefix: string, limit = 5000): Promise<{ count: number; capped: boolean }> {
  let count = 0;
  const queue = [prefix];
  while (queue.length > 0) {
    const p = queue.shift()!;
    const keys = await api.list(`sys/leases/lookup/${p}`);
    for (const k of keys) {
      if (k.endsWith('/')) queue.push(joinPath(p, k));
      else count++;
      if (count >= limit) return { count, capped: true };
    }
  }
  return { count, capped: false };
}

/**
 * One level of the lease tree. The top level is the mounts that hold
 * leases, with their counts (sys/leases/count), which also works for
 * tokens whose policies do not reach LIST sys/leases/lookup/.
 */
async function listLevel(api: Api, prefix: string): Promise<{ keys: string[]; counts: Record<string, number> }> {
  if (prefix === '') {
    const d = await api.read<{ counts?: Record<string, number> }>('sys/leases/count').catch(() => null);
    if (d?.counts) {
      const keys = Object.keys(d.counts).filter((k) => d.counts![k] > 0).sort();
      return { keys, counts: d.counts };
    }
  }
  return { keys: await api.list(`sys/leases/lookup/${prefix}`), counts: {} };
}

async function activeCount(api: Api): Promise<number> {
  const d = await api.read<{ lease_count?: number }>('sys/leases/count');
  return d?.lease_count ?? 0;
}

function Breadcrumbs({ prefix, go }: { prefix: string; go: (p: string) => void }) {
  const parts = prefix.split('/').filter(Boolean);
  return (
    <nav aria-label="Lease prefix" class="crumbs">
      <ul>
        <li>
          <a href="/ui/leases?prefix=" onClick={(e) => { e.preventDefault(); go(''); }}>
            all
          </a>
        </li>
        {parts.map((p, i) => {
          const path = parts.slice(0, i + 1).join('/') + '/';
          return (
            <li key={path}>
              <a href={`/ui/leases?prefix=${encodeURIComponent(path)}`} aria-current={path === prefix ? 'page' : undefined} onClick={(e) => { e.preventDefault(); go(path); }}>
                {p}
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

export function LeasesPage() {
  const api = useApi();
  const { query, route } = useLocation();
  const prefix = query.prefix ?? '';
  const [selected, setSelected] = useState<string>(query.lease ?? '');
  const [notice, setNotice] = useState('');
  const [lookupInput, setLookupInput] = useState('');
  const [prefixInput, setPrefixInput] = useState(prefix);
  const [revoking, setRevoking] = useState(false);
  const list = useAsync(() => listLevel(api, prefix), [api, prefix]);
  useEffect(() => setPrefixInput(prefix), [prefix]);

  const go = (p: string) => {
    setSelected('');
    setRevoking(false);
    route(`/ui/leases?prefix=${encodeURIComponent(p)}`);
  };

  return (
    <section>
      <PageTitle>Leases</PageTitle>
      {notice && <Notice>{notice}</Notice>}
      <div class="grid">
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            go(prefixInput.trim());
          }}
        >
          <label>
            Browse by prefix
            <input name="prefix" placeholder="database/creds/readonly/" value={prefixInput} onInput={(e) => setPrefixInput(e.currentTarget.value)} />
          </label>
          <button type="submit" class="secondary">
            Browse
          </button>
        </form>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setSelected(lookupInput.trim());
          }}
        >
          <label>
            Look up a lease ID
            <input name="lease_id" placeholder="database/creds/readonly/…" value={lookupInput} onInput={(e) => setLookupInput(e.currentTarget.value)} />
          </label>
          <button type="submit" class="secondary">
            Look up
          </button>
        </form>
      </div>
      {query.irrevocable && <Irrevocable />}
      <Breadcrumbs prefix={prefix} go={go} />
      {selected && (
        <LeaseDetail
          key={selected}
          id={selected}
          onClose={() => setSelected('')}
          onRevoked={() => {
            setNotice(`Lease ${selected} revoked.`);
            setSelected('');
            list.reload();
          }}
        />
      )}
      <ErrorNote error={list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <table data-testid="lease-list">
          <caption>
            {list.data.keys.length} {list.data.keys.length === 1 ? 'entry' : 'entries'} under <code>{prefix || '/'}</code>
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              {prefix === '' && <th scope="col">Active leases</th>}
            </tr>
          </thead>
          <tbody>
            {prefix && (
              <tr>
                <td>
                  <a href={`/ui/leases?prefix=${encodeURIComponent(parentPath(prefix))}`} onClick={(e) => { e.preventDefault(); go(parentPath(prefix)); }}>
                    ..
                  </a>
                </td>
                <td>parent</td>
              </tr>
            )}
            {list.data.keys.map((k) => {
              const full = joinPath(prefix, k);
              return (
                <tr key={k}>
                  <td>
                    {k.endsWith('/') ? (
                      <a href={`/ui/leases?prefix=${encodeURIComponent(full)}`} onClick={(e) => { e.preventDefault(); go(full); }}>
                        {k}
                      </a>
                    ) : (
                      <button type="button" class="link" data-lease-id={full} onClick={() => setSelected(full)}>
                        {k}
                      </button>
                    )}
                  </td>
                  <td>{k.endsWith('/') ? 'prefix' : 'lease'}</td>
                  {prefix === '' && <td>{list.data!.counts[k] ?? ''}</td>}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {prefix && !revoking && (
        <button type="button" class="danger outline" onClick={() => setRevoking(true)}>
          Revoke every lease under {prefix}…
        </button>
      )}
      {prefix && revoking && (
        <RevokePrefix
          prefix={prefix}
          onCancel={() => setRevoking(false)}
          onDone={(msg) => {
            setNotice(msg);
            list.reload();
          }}
        />
      )}
    </section>
  );
}

function LeaseDetail({ id, onClose, onRevoked }: { id: string; onClose: () => void; onRevoked: () => void }) {
  const api = useApi();
  const info = useAsync(async () => (await api.put<LeaseInfo>('sys/leases/lookup', { lease_id: id }))?.data ?? null, [api, id]);
  const [increment, setIncrement] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [msg, setMsg] = useState('');
  const [confirm, setConfirm] = useState(false);
  const d = info.data;
  const act = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setMsg('');
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <article data-testid="lease-detail" aria-labelledby="lease-detail-title">
      <header class="title-row">
        <h2 id="lease-detail-title">Lease</h2>
        <button type="button" class="secondary outline small" onClick={onClose}>
          Close
        </button>
      </header>
      <ErrorNote error={info.error} />
      {d && (
        <dl class="props">
          <dt>ID</dt>
          <dd>
            <code data-testid="lease-id">{d.id}</code>
          </dd>
          <dt>Issued</dt>
          <dd>{formatTime(d.issue_time)}</dd>
          <dt>Expires</dt>
          <dd>{formatTime(d.expire_time)}</dd>
          <dt>TTL left</dt>
          <dd data-testid="lease-ttl">{formatTTL(d.ttl)}</dd>
          <dt>Last renewal</dt>
          <dd>{formatTime(d.last_renewal)}</dd>
          <dt>Renewable</dt>
          <dd>{d.renewable ? 'yes' : 'no'}</dd>
        </dl>
      )}
      {msg && <Notice>{msg}</Notice>}
      <ErrorNote error={error} />
      {d && (
        <div class="row">
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void act(async () => {
                const env = await api.put('sys/leases/renew', { lease_id: id, increment: increment.trim() || undefined });
                setMsg(`Renewed: new TTL ${formatTTL(env?.lease_duration ?? 0)}.`);
                info.reload();
              });
            }}
          >
            <label>
              Increment
              <input name="increment" placeholder="1h" size={6} value={increment} onInput={(e) => setIncrement(e.currentTarget.value)} />
            </label>
            <button type="submit" disabled={busy || !d.renewable}>
              Renew
            </button>
          </form>
          {!confirm ? (
            <button type="button" class="danger" disabled={busy} onClick={() => setConfirm(true)}>
              Revoke…
            </button>
          ) : (
            <div class="confirm-inline" role="group" aria-label="Confirm revocation">
              <span>Revoke this lease now? The credential stops working.</span>
              <button
                type="button"
                class="danger"
                disabled={busy}
                aria-busy={busy ? 'true' : undefined}
                onClick={() =>
                  void act(async () => {
                    await api.put('sys/leases/revoke', { lease_id: id });
                    onRevoked();
                  })
                }
              >
                Revoke lease
              </button>
              <button type="button" class="secondary" onClick={() => setConfirm(false)}>
                Cancel
              </button>
            </div>
          )}
        </div>
      )}
    </article>
  );
}

/** Revoking a whole prefix, for incident response: count, typed confirmation, progress, result. */
function RevokePrefix({ prefix, onCancel, onDone }: { prefix: string; onCancel: () => void; onDone: (msg: string) => void }) {
  const api = useApi();
  const under = useAsync(() => countUnder(api, prefix), [api, prefix]);
  const [phase, setPhase] = useState<'confirm' | 'running' | 'done'>('confirm');
  const [progress, setProgress] = useState({ done: 0, total: 0 });
  const [result, setResult] = useState('');
  const [error, setError] = useState<unknown>(null);
  const alive = useRef(true);
  useEffect(() => () => void (alive.current = false), []);

  const run = async () => {
    setPhase('running');
    setError(null);
    try {
      const total = (await countUnder(api, prefix)).count;
      setProgress({ done: 0, total });
      const before = await activeCount(api);
      // Revoke in the background and follow the progress by counting what is left.
      await api.put(`sys/leases/revoke-prefix/${prefix}`, { sync: false });
      let left = total;
      let last = left;
      let still = 0;
      for (let i = 0; i < 240 && left > 0 && alive.current; i++) {
        await new Promise((r) => setTimeout(r, 250));
        left = (await countUnder(api, prefix)).count;
        setProgress({ done: total - left, total });
        still = left === last ? still + 1 : 0;
        last = left;
        if (still >= 40) break;
      }
      const after = await activeCount(api);
      const revoked = Math.max(0, before - after);
      const msg =
        left > 0
          ? `Revoked ${revoked} leases under ${prefix}; ${left} could not be revoked yet and are retried in the background.`
          : `Revoked ${revoked} leases under ${prefix}. Active leases: ${num(before)} before, ${num(after)} after.`;
      setResult(msg);
      setPhase('done');
      onDone(msg);
    } catch (e) {
      setError(e);
      setPhase('confirm');
    }
  };

  return (
    <article class="danger-zone" data-testid="revoke-prefix">
      <header>
        <h2>Revoke every lease under a prefix</h2>
      </header>
      {under.loading && <Loading what="Counting leases" />}
      <ErrorNote error={under.error} />
      {under.data && phase === 'confirm' && (
        <TypedConfirm phrase={prefix} action={`Revoke ${under.data.count}${under.data.capped ? '+' : ''} leases`} onConfirm={() => void run()} onCancel={onCancel}>
          <p>
            This revokes <strong data-testid="prefix-count">{under.data.count}{under.data.capped ? '+' : ''}</strong> leases under <code>{prefix}</code>: every credential issued there stops working
            now. It cannot be undone.
          </p>
        </TypedConfirm>
      )}
      {phase === 'running' && (
        <>
          <label>
            Revoking
            <progress value={progress.done} max={progress.total || 1} />
          </label>
          <p aria-live="polite">
            {progress.done} of {progress.total} revoked
          </p>
        </>
      )}
      {phase === 'done' && <p data-testid="revoke-result">{result}</p>}
      <ErrorNote error={error} />
    </article>
  );
}

function Irrevocable() {
  const api = useApi();
  const res = useAsync(() => api.read<{ leases?: { lease_id: string; mount_id?: string; error?: string }[] }>('sys/leases', { type: 'irrevocable' }), [api]);
  return (
    <article>
      <header>
        <h2>Irrevocable leases</h2>
      </header>
      <p>Their revocation failed repeatedly; the credentials may still exist on the target. Fix the cause, then revoke them again or force-revoke the prefix with the CLI.</p>
      <ErrorNote error={res.error} />
      {res.data?.leases?.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Lease</th>
              <th scope="col">Mount</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {res.data.leases.map((l) => (
              <tr key={l.lease_id}>
                <td>
                  <code>{l.lease_id}</code>
                </td>
                <td>{l.mount_id}</td>
                <td>{l.error}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        !res.loading && <p>None.</p>
      )}
    </article>
  );
}
