import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api } from './api';
import { AppContext, type AppState } from './context';
import { Loading } from './components';
import { clearSession, loadSession, saveSession, type Session } from './session';
import { LoginPage } from './pages/Login';
import { SealPage, type SealStatus } from './pages/Seal';
import { DashboardPage } from './pages/Dashboard';
import { LeasesPage } from './pages/Leases';
import { EnginesPage } from './pages/Engines';
import { EnginePage } from './pages/Engine';
import { PoliciesPage, PolicyPage } from './pages/Policies';
import { AccessPage, AppRolePage } from './pages/Access';
import { AuditPage } from './pages/Audit';

const nav: [string, string][] = [
  ['/ui/', 'Dashboard'],
  ['/ui/leases', 'Leases'],
  ['/ui/secrets', 'Secrets'],
  ['/ui/policies', 'Policies'],
  ['/ui/access', 'Access'],
  ['/ui/audit', 'Audit'],
];

function Nav({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const { path } = useLocation();
  const current = (href: string) => (href === '/ui/' ? path === '/ui' || path === '/ui/' : path === href || path.startsWith(href + '/'));
  return (
    <header class="container-fluid topbar">
      <nav aria-label="Main">
        <ul>
          <li>
            <a href="/ui/" class="brand">
              <strong>Coffer</strong>
            </a>
          </li>
          {nav.map(([href, label]) => (
            <li key={href}>
              <a href={href} aria-current={current(href) ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
        <ul>
          <li class="who" data-testid="who">
            {session.displayName || session.method}
          </li>
          <li>
            <button type="button" class="secondary outline small" onClick={onSignOut}>
              Sign out
            </button>
          </li>
        </ul>
      </nav>
    </header>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page here. <a href="/ui/">Go to the dashboard</a>.
      </p>
    </section>
  );
}

function Console({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  return (
    <>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <Nav session={session} onSignOut={onSignOut} />
      <main id="main" class="container" tabIndex={-1}>
        <Router>
          <Route path="/ui" component={DashboardPage} />
          <Route path="/ui/login" component={DashboardPage} />
          <Route path="/ui/leases" component={LeasesPage} />
          <Route path="/ui/secrets" component={EnginesPage} />
          <Route path="/ui/secrets/:mount+" component={EnginePage} />
          <Route path="/ui/policies" component={PoliciesPage} />
          <Route path="/ui/policies/:name" component={PolicyPage} />
          <Route path="/ui/access" component={AccessPage} />
          <Route path="/ui/access/approle/:mount+" component={AppRolePage} />
          <Route path="/ui/audit" component={AuditPage} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [seal, setSeal] = useState<SealStatus | null>(null);
  const [sealError, setSealError] = useState<string>('');
  const sessionRef = useRef(session);
  sessionRef.current = session;

  const refreshRef = useRef<() => Promise<void>>(async () => {});
  const api = useMemo(
    () =>
      new Api({
        token: () => sessionRef.current?.token ?? null,
        onInvalidToken: () => {
          clearSession();
          setSession(null);
        },
        onSealed: () => void refreshRef.current(),
      }),
    [],
  );

  const refreshSeal = useCallback(async () => {
    try {
      setSeal(await api.bare<SealStatus>('GET', 'sys/seal-status'));
      setSealError('');
    } catch (e) {
      setSealError(e instanceof Error ? e.message : String(e));
    }
  }, [api]);
  refreshRef.current = refreshSeal;

  useEffect(() => {
    void refreshSeal();
  }, [refreshSeal]);

  const state: AppState = useMemo(
    () => ({
      api,
      session,
      signIn: (s: Session) => {
        saveSession(s);
        setSession(s);
      },
      signOut: async () => {
        // The token is forgotten, not revoked: revoking it would also revoke
        // every credential issued during the session (they are its children).
        clearSession();
        setSession(null);
      },
      refreshSeal,
    }),
    [api, session, refreshSeal],
  );

  let body;
  if (!seal) {
    body = sealError ? (
      <main class="container narrow">
        <h1>Coffer</h1>
        <p role="alert" class="error">
          The server cannot be reached: {sealError}
        </p>
        <button type="button" onClick={() => void refreshSeal()}>
          Try again
        </button>
      </main>
    ) : (
      <main class="container narrow">
        <Loading what="Connecting" />
      </main>
    );
  } else if (!seal.initialized || seal.sealed) {
    body = <SealPage status={seal} onStatus={setSeal} />;
  } else if (!session) {
    body = <LoginPage />;
  } else {
    body = <Console session={session} onSignOut={() => void state.signOut()} />;
  }
  return (
    <AppContext.Provider value={state}>
      <LocationProvider scope="/ui">{body}</LocationProvider>
    </AppContext.Provider>
  );
}
