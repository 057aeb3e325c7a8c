/** REST calls. A 401 anywhere means the session is gone: the app shows the login form. */
import type { Topology } from './model.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`./api/${path}`, init);
  if (res.status === 401 && path !== 'login') onUnauthorized();
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText);
  }
  return (await res.json()) as T;
}

export type Role = 'viewer' | 'operator' | 'admin';
export interface Me {
  username: string;
  role: Role;
  /** the stations (topology sites) the user is bound to; null or absent: all */
  sites?: string[] | null;
}

export function getMe(): Promise<Me> {
  return api<Me>('me');
}

export function login(username: string, password: string): Promise<Me> {
  return api<Me>('login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
}

export async function logout(): Promise<void> {
  await api('logout', { method: 'POST' }).catch(() => undefined);
}

export function getTopology(): Promise<Topology> {
  return api<Topology>('topology');
}

export interface HistorySeries {
  device: string;
  quantity: string;
  ts: number[];
  values: number[];
}
export interface HistoryAnswer {
  from: number;
  to: number;
  /** bucket width, ms; 0 = raw readings */
  step: number;
  aggregate: string;
  series: HistorySeries[];
}

export function getHistory(q: { devices: string[]; quantities: string[]; from: number; to: number; step?: number }, signal?: AbortSignal): Promise<HistoryAnswer> {
  const p = new URLSearchParams({ device: q.devices.join(','), quantity: q.quantities.join(','), from: String(Math.floor(q.from)), to: String(Math.ceil(q.to)) });
  if (q.step) p.set('step', String(q.step));
  return api<HistoryAnswer>(`history?${p}`, signal ? { signal } : undefined);
}
