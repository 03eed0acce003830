import { useLocation } from 'preact-iso';
import { useRef, useState } from 'preact/hooks';
import { ApiError, messageOf } from '../api';
import { ErrorNote, Loading, Notice, PageTitle, TypedConfirm, useAsync } from '../components';
import { useApi } from '../context';
import { errorLine } from '../format';

const fixed = ['root'];

export function PoliciesPage() {
  const api = useApi();
  const { route } = useLocation();
  const list = useAsync(() => api.list('sys/policies/acl'), [api]);
  const [name, setName] = useState('');
  return (
    <section>
      <PageTitle>Policies</PageTitle>
      <ErrorNote error={list.error} />
      {list.loading && !list.data && <Loading />}
      {list.data && (
        <ul class="names" data-testid="policies">
          {list.data.map((n) => (
            <li key={n}>
              <a href={`/ui/policies/${encodeURIComponent(n)}`}>{n}</a>
            </li>
          ))}
        </ul>
      )}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) route(`/ui/policies/${encodeURIComponent(name.trim().toLowerCase())}?new=1`);
        }}
      >
        <label>
          New policy name
          <input name="new_policy" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="secondary">
          Create
        </button>
      </form>
    </section>
  );
}

export function PolicyPage({ name }: { name: string }) {
  const api = useApi();
  const { query, route } = useLocation();
  const isNew = query.new === '1';
  const cur = useAsync(async () => (isNew ? null : await api.read<{ policy?: string }>(`sys/policies/acl/${name}`)), [api, name, isNew]);
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const ta = useRef<HTMLTextAreaElement>(null);
  const value = text ?? cur.data?.policy ?? '';
  const readOnly = fixed.includes(name);
  const msg = error ? messageOf(error) : '';
  const line = error instanceof ApiError && error.status === 400 ? errorLine(msg) : null;
  const lines = value.split('\n');

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved('');
    try {
      await api.put(`sys/policies/acl/${name}`, { policy: value });
      setSaved(`Saved policy ${name}.`);
      if (isNew) route(`/ui/policies/${encodeURIComponent(name)}`, true);
    } catch (err) {
      setError(err);
      // Put the caret on the line the server complains about.
      const l = err instanceof ApiError ? errorLine(messageOf(err)) : null;
      const el = ta.current;
      if (el && l && l <= lines.length) {
        const start = lines.slice(0, l - 1).reduce((n, s) => n + s.length + 1, 0);
        el.focus();
        el.setSelectionRange(start, start + lines[l - 1].length);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <nav aria-label="Breadcrumb" class="crumbs">
        <ul>
          <li>
            <a href="/ui/policies">Policies</a>
          </li>
          <li>
            <a href={location.pathname} aria-current="page">
              {name}
            </a>
          </li>
        </ul>
      </nav>
      <PageTitle>Policy {name}</PageTitle>
      <ErrorNote error={cur.error} />
      {cur.loading && !isNew && <Loading />}
      {saved && <Notice>{saved}</Notice>}
      {(!cur.loading || isNew) && (
        <form onSubmit={save}>
          <label for="policy-text">Rules (HCL)</label>
          <textarea
            id="policy-text"
            name="policy"
            ref={ta}
            class="code"
            rows={Math.min(30, Math.max(8, lines.length + 2))}
            spellcheck={false}
            readOnly={readOnly}
            value={value}
            aria-invalid={error instanceof ApiError && error.status === 400 ? 'true' : undefined}
            aria-describedby={msg ? 'policy-error' : undefined}
            onInput={(e) => {
              setText(e.currentTarget.value);
              setSaved('');
            }}
          />
          {msg && (
            <div id="policy-error" class="error inline-error" role="alert" data-testid="policy-error">
              <strong>{error instanceof ApiError && error.status === 400 ? 'The policy is not valid: ' : ''}</strong>
              {msg}
              {line && line <= lines.length && (
                <pre class="error-line">
                  <span class="lineno">{line}</span> {lines[line - 1]}
                </pre>
              )}
            </div>
          )}
          {!readOnly && (
            <button type="submit" disabled={busy} aria-busy={busy ? 'true' : undefined}>
              Save policy
            </button>
          )}
        </form>
      )}
      {!isNew && !readOnly && name !== 'default' && (
        <>
          {!deleting ? (
            <button type="button" class="danger outline" onClick={() => setDeleting(true)}>
              Delete policy…
            </button>
          ) : (
            <TypedConfirm
              phrase={name}
              action="Delete policy"
              onCancel={() => setDeleting(false)}
              onConfirm={async () => {
                try {
                  await api.remove(`sys/policies/acl/${name}`);
                  route('/ui/policies');
                } catch (err) {
                  setError(err);
                }
              }}
            >
              <p>Tokens that carry this policy lose what it granted.</p>
            </TypedConfirm>
          )}
        </>
      )}
    </section>
  );
}
