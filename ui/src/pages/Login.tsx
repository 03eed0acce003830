import { useEffect, useState } from 'preact/hooks';
import type { Envelope } from '../api';
import { ErrorNote } from '../components';
import { useApp } from '../context';
import type { Method, Session } from '../session';

interface Mounts {
  auth?: Record<string, { type?: string }>;
}

const labels: Record<Method, string> = { token: 'Token', approle: 'AppRole', userpass: 'Username and password' };

/** The sign-in form: token, AppRole, or userpass when that method is enabled. */
export function LoginPage() {
  const { api, signIn } = useApp();
  const [method, setMethod] = useState<Method>('token');
  const [available, setAvailable] = useState<Method[]>(['token', 'approle']);
  const [mountOf, setMountOf] = useState<Record<string, string>>({ approle: 'approle', userpass: 'userpass' });
  const [token, setToken] = useState('');
  const [roleId, setRoleId] = useState('');
  const [secretId, setSecretId] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    // Which auth methods are enabled, and where.
    api.call<Mounts>('GET', 'sys/internal/ui/mounts', undefined, { token: null }).then(
      (env) => {
        const auth = env?.data.auth ?? {};
        const found: Record<string, string> = {};
        for (const [path, m] of Object.entries(auth)) {
          const t = m?.type ?? '';
          if ((t === 'approle' || t === 'userpass') && !found[t]) found[t] = path.replace(/\/$/, '');
        }
        setMountOf((cur) => ({ ...cur, ...found }));
        setAvailable(['token', 'approle', ...(found.userpass ? (['userpass'] as Method[]) : [])]);
      },
      () => undefined,
    );
  }, [api]);

  const finish = async (tokenValue: string, m: Method, auth?: Envelope['auth']) => {
    const env = await api.call<{ display_name?: string; policies?: string[]; ttl?: number }>('GET', 'auth/token/lookup-self', undefined, { token: tokenValue });
    const d = env?.data ?? {};
    const s: Session = {
      token: tokenValue,
      method: m,
      displayName: d.display_name || (m === 'userpass' ? username : m),
      policies: d.policies ?? auth?.policies ?? [],
      ttl: d.ttl ?? auth?.lease_duration ?? 0,
      since: Date.now(),
    };
    signIn(s);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (method === 'token') {
        await finish(token.trim(), 'token');
      } else if (method === 'approle') {
        const env = await api.call('POST', `auth/${mountOf.approle}/login`, { role_id: roleId.trim(), secret_id: secretId.trim() }, { token: null });
        if (!env?.auth?.client_token) throw new Error('The server did not return a token.');
        await finish(env.auth.client_token, 'approle', env.auth);
      } else {
        const env = await api.call('POST', `auth/${mountOf.userpass}/login/${username.trim()}`, { password }, { token: null });
        if (!env?.auth?.client_token) throw new Error('The server did not return a token.');
        await finish(env.auth.client_token, 'userpass', env.auth);
      }
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <main class="container narrow" id="main">
      <article>
        <header>
          <h1>Sign in to Coffer</h1>
        </header>
        <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
          <label>
            Method
            <select name="method" value={method} onChange={(e) => setMethod(e.currentTarget.value as Method)}>
              {available.map((m) => (
                <option key={m} value={m}>
                  {labels[m]}
                </option>
              ))}
            </select>
          </label>
          {method === 'token' && (
            <label>
              Token
              <input name="token" type="password" autocomplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
            </label>
          )}
          {method === 'approle' && (
            <>
              <label>
                Role ID
                <input name="role_id" autocomplete="off" required value={roleId} onInput={(e) => setRoleId(e.currentTarget.value)} />
              </label>
              <label>
                Secret ID
                <input name="secret_id" type="password" autocomplete="off" value={secretId} onInput={(e) => setSecretId(e.currentTarget.value)} />
              </label>
            </>
          )}
          {method === 'userpass' && (
            <>
              <label>
                Username
                <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
              </label>
              <label>
                Password
                <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
              </label>
            </>
          )}
          {method !== 'token' && (
            <details>
              <summary>Mount path</summary>
              <label>
                Auth method path
                <input name="mount" value={mountOf[method]} onInput={(e) => setMountOf({ ...mountOf, [method]: e.currentTarget.value.replace(/^\/+|\/+$/g, '') })} />
              </label>
            </details>
          )}
          <ErrorNote error={error} id="login-error" />
          <button type="submit" disabled={busy} aria-busy={busy ? 'true' : undefined}>
            Sign in
          </button>
        </form>
        <footer>
          <small>The session token is kept in this browser tab only and is forgotten when you sign out or close the tab. It stays valid until its TTL ends; revoke it with the CLI to end it sooner.</small>
        </footer>
      </article>
    </main>
  );
}
