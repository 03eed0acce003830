import { useState } from 'preact/hooks';
import { ErrorNote, FieldTable, Loading, PageTitle, useAsync } from '../components';
import { useApi } from '../context';
import { DatabaseEngine } from './Database';
import { loadMounts, TuneForm } from './Engines';
import { KvEngine } from './Kv';
import { PkiEngine } from './Pki';

/** One mounted secrets engine; the view depends on its type. */
export function EnginePage({ mount: raw }: { mount: string }) {
  const api = useApi();
  const path = raw.replace(/\/+$/, '') + '/';
  const mounts = useAsync(() => loadMounts(api), [api]);
  const [tune, setTune] = useState(false);
  const m = mounts.data?.find((x) => x.path === path);
  return (
    <section>
      <nav aria-label="Breadcrumb" class="crumbs">
        <ul>
          <li>
            <a href="/ui/secrets">Secrets</a>
          </li>
          <li>
            <a href={location.pathname} aria-current="page">
              {path}
            </a>
          </li>
        </ul>
      </nav>
      <div class="title-row">
        <PageTitle>
          {path} <small class="muted">{m ? m.type + (m.options?.version ? ` v${m.options.version}` : '') : ''}</small>
        </PageTitle>
        {m && (
          <button type="button" class="secondary outline small" onClick={() => setTune(!tune)} aria-expanded={tune}>
            Tune
          </button>
        )}
      </div>
      <ErrorNote error={mounts.error} />
      {mounts.loading && !mounts.data && <Loading />}
      {mounts.data && !m && <p role="alert">No secrets engine is mounted at {path}.</p>}
      {m && tune && <TuneForm table="mounts" mount={m} onClose={() => setTune(false)} onDone={() => { setTune(false); mounts.reload(); }} />}
      {m?.type === 'database' && <DatabaseEngine mount={path} />}
      {m?.type === 'pki' && <PkiEngine mount={path} />}
      {m?.type === 'kv' && <KvEngine mount={path} version={m.options?.version === '2' ? 2 : 1} />}
      {m && !['database', 'pki', 'kv'].includes(m.type) && <GenericEngine mount={path} />}
    </section>
  );
}

/** Reads or lists any path of an engine this console has no special view for. */
function GenericEngine({ mount }: { mount: string }) {
  const api = useApi();
  const [sub, setSub] = useState('');
  const [result, setResult] = useState<{ keys?: string[]; data?: Record<string, unknown> } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (list: boolean) => {
    setError(null);
    setResult(null);
    try {
      if (list) setResult({ keys: await api.list(mount + sub) });
      else setResult({ data: (await api.read(mount + sub)) ?? {} });
    } catch (e) {
      setError(e);
    }
  };
  return (
    <article>
      <form onSubmit={(e) => { e.preventDefault(); void run(false); }}>
        <label>
          Path under {mount}
          <input name="path" value={sub} onInput={(e) => setSub(e.currentTarget.value)} />
        </label>
        <div class="row">
          <button type="submit">Read</button>
          <button type="button" class="secondary" onClick={() => void run(true)}>
            List
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {result?.keys && (
        <ul>
          {result.keys.map((k) => (
            <li key={k}>{k}</li>
          ))}
        </ul>
      )}
      {result?.data && <FieldTable data={result.data} secretKeys={Object.keys(result.data)} />}
    </article>
  );
}
