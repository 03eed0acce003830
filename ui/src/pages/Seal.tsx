import { useState } from 'preact/hooks';
import { CopyButton, download, ErrorNote, SecretValue } from '../components';
import { useApp } from '../context';

export interface SealStatus {
  type: string;
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  version?: string;
  cluster_name?: string;
}

interface InitResult {
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

/** Initialisation and unsealing, shown whenever the server is not ready. */
export function SealPage({ status, onStatus }: { status: SealStatus; onStatus: (s: SealStatus) => void }) {
  const [init, setInit] = useState<InitResult | null>(null);
  const [local, setLocal] = useState<SealStatus>(status);
  const [done, setDone] = useState(false);
  const cur = local;

  return (
    <main class="container narrow" id="main">
      <h1>Coffer</h1>
      <p class={`seal-state ${cur.sealed ? 'sealed' : 'unsealed'}`} role="status" data-testid="seal-state">
        {!cur.initialized ? 'Not initialised' : cur.sealed ? 'Sealed' : 'Unsealed'}
        {cur.version && <small> · version {cur.version}</small>}
      </p>
      {!cur.initialized && !init && (
        <InitForm
          onDone={(r, s) => {
            setInit(r);
            setLocal(s);
          }}
        />
      )}
      {init && <InitKeys result={init} />}
      {cur.initialized && cur.sealed && (
        <UnsealForm
          status={cur}
          onStatus={(s) => {
            setLocal(s);
            if (!s.sealed) {
              if (init) setDone(true);
              else onStatus(s);
            }
          }}
        />
      )}
      {done && init && <Finish rootToken={init.root_token} status={cur} onStatus={onStatus} />}
    </main>
  );
}

function InitForm({ onDone }: { onDone: (r: InitResult, s: SealStatus) => void }) {
  const { api } = useApp();
  const [shares, setShares] = useState(5);
  const [threshold, setThreshold] = useState(3);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const invalid = threshold < 1 || shares < 1 || threshold > shares || (shares > 1 && threshold < 2);
  return (
    <article>
      <header>
        <h2>Initialise</h2>
      </header>
      <p>This server has no data yet. Initialising creates the root key, splits it into key shares and returns a root token.</p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const r = await api.bare<InitResult>('PUT', 'sys/init', { secret_shares: shares, secret_threshold: threshold });
            onDone(r, await api.bare<SealStatus>('GET', 'sys/seal-status'));
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div class="grid">
          <label>
            Key shares
            <input name="secret_shares" type="number" min={1} max={255} value={shares} onInput={(e) => setShares(Number(e.currentTarget.value))} />
          </label>
          <label>
            Key threshold
            <input name="secret_threshold" type="number" min={1} max={255} value={threshold} aria-invalid={invalid ? 'true' : undefined} aria-describedby="threshold-help" onInput={(e) => setThreshold(Number(e.currentTarget.value))} />
            <small id="threshold-help">Shares needed to unseal: at most the number of shares, and at least 2 when there is more than one share.</small>
          </label>
        </div>
        <ErrorNote error={error} />
        <button type="submit" disabled={busy || invalid} aria-busy={busy ? 'true' : undefined}>
          Initialise
        </button>
      </form>
    </article>
  );
}

function InitKeys({ result }: { result: InitResult }) {
  return (
    <article data-testid="init-keys">
      <header>
        <h2>Save the unseal keys and the root token</h2>
      </header>
      <p>
        They are shown once. Give each key share to a different operator. Without enough shares the data cannot be unsealed.
      </p>
      <ol class="keys">
        {result.keys.map((k, i) => (
          <li key={k}>
            <SecretValue value={k} label={`key share ${i + 1}`} testid={`key-${i + 1}`} />
          </li>
        ))}
      </ol>
      <p>
        Root token: <SecretValue value={result.root_token} label="root token" testid="root-token" />
      </p>
      <button
        type="button"
        class="secondary"
        onClick={() => download('coffer-init.json', JSON.stringify({ unseal_keys_hex: result.keys, unseal_keys_b64: result.keys_base64, root_token: result.root_token }, null, 2), 'application/json')}
      >
        Download as JSON
      </button>
    </article>
  );
}

function UnsealForm({ status, onStatus }: { status: SealStatus; onStatus: (s: SealStatus) => void }) {
  const { api } = useApp();
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const send = async (body: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    try {
      const s = await api.bare<SealStatus>('PUT', 'sys/unseal', body);
      setKey('');
      onStatus(s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <article>
      <header>
        <h2>Unseal</h2>
      </header>
      <p>
        The server is sealed: it holds its data encrypted and answers no requests until enough key shares are entered. Seal type: <strong>{status.type || 'shamir'}</strong>.
      </p>
      <label>
        Progress
        <progress value={status.progress} max={status.t || 1} aria-describedby="unseal-progress" />
      </label>
      <p id="unseal-progress" data-testid="unseal-progress">
        {status.progress} of {status.t} key shares entered
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void send({ key: key.trim() });
        }}
      >
        <label>
          Unseal key share
          <input name="key" type="password" autocomplete="off" required value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <ErrorNote error={error} />
        <div class="row">
          <button type="submit" disabled={busy || !key.trim()} aria-busy={busy ? 'true' : undefined}>
            Enter key share
          </button>
          {status.progress > 0 && (
            <button type="button" class="secondary" disabled={busy} onClick={() => void send({ reset: true })}>
              Start over
            </button>
          )}
        </div>
      </form>
    </article>
  );
}

function Finish({ rootToken, status, onStatus }: { rootToken: string; status: SealStatus; onStatus: (s: SealStatus) => void }) {
  const { api, signIn } = useApp();
  return (
    <article>
      <header>
        <h2>Unsealed</h2>
      </header>
      <p>The server is ready. Sign in with the root token to configure it, then create narrower tokens and revoke the root token.</p>
      <div class="row">
        <button
          type="button"
          onClick={async () => {
            const env = await api.call<{ display_name?: string; policies?: string[] }>('GET', 'auth/token/lookup-self', undefined, { token: rootToken });
            signIn({ token: rootToken, method: 'token', displayName: env?.data.display_name || 'root', policies: env?.data.policies ?? ['root'], ttl: 0, since: Date.now() });
            onStatus(status);
          }}
        >
          Sign in with the root token
        </button>
        <button type="button" class="secondary" onClick={() => onStatus(status)}>
          Go to sign in
        </button>
        <CopyButton value={rootToken} label="root token" />
      </div>
    </article>
  );
}
