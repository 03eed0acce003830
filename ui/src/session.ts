// The session lives in sessionStorage only: it ends with the browser tab
// and is never written to localStorage or cookies.

export type Method = 'token' | 'approle' | 'userpass';

export interface Session {
  token: string;
  method: Method;
  displayName: string;
  policies: string[];
  /** Seconds of TTL at sign-in; 0 for tokens that never expire. */
  ttl: number;
  /** Epoch milliseconds of sign-in. */
  since: number;
}

const key = 'coffer.session';

export function loadSession(store: Storage = sessionStorage): Session | null {
  const raw = store.getItem(key);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    return typeof s.token === 'string' && s.token ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session, store: Storage = sessionStorage): void {
  store.setItem(key, JSON.stringify(s));
}

export function clearSession(store: Storage = sessionStorage): void {
  store.removeItem(key);
}
