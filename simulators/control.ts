/**
 * Switching faults at run time in a running simulator process: a small HTTP
 * API (loopback by default; it has no authentication, it is a test tool).
 *
 *   GET    /gateways                                  gateways, units and the faults in force
 *   POST   /gateways/:id/units/:unit/faults           {"fault": {"kind": "sag", "depth": 0.8}, "durationS": 30}
 *   DELETE /gateways/:id/units/:unit/faults[?kind=…] end one kind of fault, or all
 *   POST   /gateways/:id/units/:unit/override         {"ua": 231.4, "p": 71.2}
 *   DELETE /gateways/:id/units/:unit/override
 *   POST   /sensors/:id                               {"set": {"contact": false}, "durationS": 60}
 *   DELETE /sensors/:id
 *
 * Bad input is answered 400 with every problem listed, never a crash.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { isFaultKind } from './faults.ts';
import { isModelQuantity, type MeterOverrides } from './meter-model.ts';
import type { SimulatedGateway } from './modbus-server.ts';
import type { RoomSensors } from './room-sensors.ts';
import { FaultSchema } from './scenario.ts';

const FaultBody = z.strictObject({ fault: FaultSchema, durationS: z.number().positive().optional() });
const SensorBody = z.strictObject({ set: z.record(z.string().min(1), z.union([z.number(), z.boolean(), z.string()])), durationS: z.number().positive().optional() });
const MAX_BODY = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: string[] = [message],
  ) {
    super(message);
  }
}

async function body(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new HttpError(413, `body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

function parse<T>(schema: z.ZodType<T>, x: unknown): T {
  const r = schema.safeParse(x);
  if (!r.success) throw new HttpError(400, 'invalid body', r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`));
  return r.data;
}

export interface ControlServer {
  url: string;
  stop(): Promise<void>;
}

export async function startControlServer(
  target: { gateways: ReadonlyMap<string, SimulatedGateway>; sensors?: RoomSensors | null },
  opts: { host?: string; port: number },
): Promise<ControlServer> {
  const gatewayOf = (id: string) => {
    const g = target.gateways.get(id);
    if (!g) throw new HttpError(404, `no gateway "${id}"`);
    return g;
  };
  const unitOf = (g: SimulatedGateway, raw: string) => {
    const unit = Number(raw);
    if (!Number.isInteger(unit) || !g.unitIds().includes(unit)) throw new HttpError(404, `no unit ${raw}`);
    return unit;
  };

  async function route(req: http.IncomingMessage): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const m = req.method ?? 'GET';
    if (m === 'GET' && parts.length === 1 && parts[0] === 'gateways') {
      return {
        gateways: [...target.gateways].map(([id, g]) => ({
          id,
          units: g.unitIds().map((u) => ({ unit: u, faults: g.unit(u).faults().map((a) => ({ ...a.fault, since: a.since, ...(a.until ? { until: a.until } : {}) })) })),
        })),
      };
    }
    if (parts[0] === 'gateways' && parts.length === 5 && parts[2] === 'units') {
      const g = gatewayOf(parts[1]!);
      const unit = unitOf(g, parts[3]!);
      if (parts[4] === 'faults' && m === 'POST') {
        const b = parse(FaultBody, await body(req));
        g.setFault(unit, b.fault, b.durationS !== undefined ? b.durationS * 1000 : undefined);
        return null;
      }
      if (parts[4] === 'faults' && m === 'DELETE') {
        const kind = url.searchParams.get('kind');
        if (kind !== null && !isFaultKind(kind)) throw new HttpError(400, `unknown fault kind "${kind}"`);
        g.clearFault(unit, kind ?? undefined);
        return null;
      }
      if (parts[4] === 'override' && m === 'POST') {
        const b = await body(req);
        if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new HttpError(400, 'override must be an object of quantity → number');
        const errors: string[] = [];
        const values: MeterOverrides = {};
        for (const [k, v] of Object.entries(b)) {
          if (!isModelQuantity(k)) errors.push(`${k}: not a quantity of the meter model`);
          else if (typeof v !== 'number' || !Number.isFinite(v)) errors.push(`${k}: must be a finite number`);
          else values[k] = v;
        }
        if (errors.length) throw new HttpError(400, 'invalid override', errors);
        g.setOverride(unit, values);
        return null;
      }
      if (parts[4] === 'override' && m === 'DELETE') {
        g.clearOverride(unit);
        return null;
      }
    }
    if (parts[0] === 'sensors' && parts.length === 2 && (m === 'POST' || m === 'DELETE')) {
      const sensors = target.sensors;
      if (!sensors) throw new HttpError(404, 'no room sensors in this simulator');
      try {
        sensors.payload(parts[1]!);
      } catch {
        throw new HttpError(404, `no sensor "${parts[1]}"`);
      }
      if (m === 'DELETE') sensors.clear(parts[1]!);
      else {
        const b = parse(SensorBody, await body(req));
        sensors.set(parts[1]!, b.set, b.durationS !== undefined ? b.durationS * 1000 : undefined);
      }
      return null;
    }
    throw new HttpError(404, `no route ${m} ${url.pathname}`);
  }

  const server = http.createServer((req, res) => {
    route(req).then(
      (out) => {
        if (out === null) res.writeHead(204).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      },
      (err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(500, (err as Error)?.message ?? 'internal error');
        res.writeHead(e.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.message, errors: e.errors }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${addr.port}`,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // keep-alive connections of clients would hold close() until they idle out
        server.closeAllConnections();
      }),
  };
}
