// A small client for the Vault-compatible HTTP API under /v1/.

export class ApiError extends Error {
  readonly status: number;
  readonly errors: string[];
  constructor(status: number, errors: string[]) {
    super(errors.length ? errors.join('; ') : `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.errors = errors;
  }
  get sealed(): boolean {
    return this.status === 503 && this.errors.some((e) => /sealed/i.test(e));
  }
  get invalidToken(): boolean {
    return this.status === 403 && this.errors.some((e) => /invalid token|token.*(expired|revoked)/i.test(e));
  }
}

/** The JSON envelope of a Vault response. */
export interface Envelope<T = Record<string, unknown>> {
  request_id?: string;
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data: T;
  auth?: {
    client_token: string;
    accessor?: string;
    policies?: string[];
    token_policies?: string[];
    lease_duration?: number;
    renewable?: boolean;
    metadata?: Record<string, string> | null;
  } | null;
  warnings?: string[] | null;
}

export interface Hooks {
  token(): string | null;
  /** The token was rejected: the session is over. */
  onInvalidToken(): void;
  /** The server answered that it is sealed. */
  onSealed(): void;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LIST';

/** Encodes each segment of an API path, keeping the slashes. */
export function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

export class Api {
  constructor(private readonly hooks: Hooks, private readonly base = '/v1/') {}

  /**
   * Sends a request. A 204 or an empty body gives null. LIST is sent as
   * GET with list=true so that every proxy passes it.
   */
  async call<T = Record<string, unknown>>(
    method: HttpMethod,
    path: string,
    body?: unknown,
    opts: { token?: string | null; query?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Envelope<T> | null> {
    const q = new URLSearchParams(opts.query);
    let m: string = method;
    if (method === 'LIST') {
      m = 'GET';
      q.set('list', 'true');
    }
    const qs = q.toString();
    const headers: Record<string, string> = { 'X-Vault-Request': 'true' };
    const token = opts.token === undefined ? this.hooks.token() : opts.token;
    if (token) headers['X-Vault-Token'] = token;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(this.base + encodePath(path.replace(/^\/+/, '')) + (qs ? '?' + qs : ''), {
      method: m,
      headers,
      body: payload,
      credentials: 'omit',
      cache: 'no-store',
      signal: opts.signal,
    });
    const text = await res.text();
    let json: unknown = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    if (!res.ok) {
      const errs = errorsOf(json, text);
      const err = new ApiError(res.status, errs);
      if (err.sealed) this.hooks.onSealed();
      else if (err.invalidToken && token) this.hooks.onInvalidToken();
      throw err;
    }
    if (json === null || typeof json !== 'object') return null;
    const env = json as Envelope<T>;
    if (env.data === undefined || env.data === null) env.data = {} as T;
    return env;
  }

  /**
   * For the sys endpoints that answer without the data envelope
   * (seal-status, init, unseal): the whole JSON body.
   */
  async bare<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    const env = await this.call(method, path, body, { token: null });
    return (env ?? {}) as unknown as T;
  }

  async read<T = Record<string, unknown>>(path: string, query?: Record<string, string>): Promise<T | null> {
    try {
      const env = await this.call<T>('GET', path, undefined, { query });
      return env ? env.data : null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && e.errors.length === 0) return null;
      throw e;
    }
  }

  /** Lists keys; a missing path lists nothing. */
  async list(path: string): Promise<string[]> {
    try {
      const env = await this.call<{ keys?: string[] }>('LIST', path);
      return env?.data.keys ?? [];
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return [];
      throw e;
    }
  }

  async write<T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<Envelope<T> | null> {
    return this.call<T>('POST', path, body);
  }

  async put<T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<Envelope<T> | null> {
    return this.call<T>('PUT', path, body);
  }

  async remove(path: string): Promise<void> {
    await this.call('DELETE', path);
  }

  /** Reads an endpoint that answers JSON with any status (sys/health). */
  async raw(path: string, query?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> | null }> {
    const qs = new URLSearchParams(query).toString();
    const res = await fetch(this.base + path + (qs ? '?' + qs : ''), { cache: 'no-store', credentials: 'omit' });
    let body: Record<string, unknown> | null = null;
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      body = null;
    }
    return { status: res.status, body };
  }
}

function errorsOf(json: unknown, text: string): string[] {
  if (json && typeof json === 'object' && Array.isArray((json as { errors?: unknown }).errors)) {
    return ((json as { errors: unknown[] }).errors).map(String);
  }
  const t = text.trim();
  return t && t.length < 500 && !t.startsWith('<') ? [t] : [];
}

/** A message for any thrown value. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403 && e.errors.length <= 1) return 'Permission denied: the token\'s policies do not allow this.';
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
