import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api';
import type { Session } from './session';

export interface AppState {
  api: Api;
  session: Session | null;
  signIn(s: Session): void;
  signOut(): Promise<void>;
  /** Re-reads the seal status (after init or unseal). */
  refreshSeal(): Promise<void>;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const s = useContext(AppContext);
  if (!s) throw new Error('AppContext missing');
  return s;
}

export function useApi(): Api {
  return useApp().api;
}
