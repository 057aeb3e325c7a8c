/**
 * The pure parts of cluster mode: which partitions a server owns among the
 * live ones, the MQTT topic of a stream subject, the agent's partition, and
 * the cluster's alarm sequence, and the configuration refused with a clear
 * error.
 */
import { describe, expect, it } from 'vitest';
import { assignedTo } from '../../server/cluster/leases.ts';
import { topicOfSubject } from '../../server/cluster/node.ts';
import { fnv1a32, partitionOf } from '../../server/cluster/partition.ts';
import { SLOTS, nextSeq } from '../../server/cluster/sequence.ts';
import { createServer, loadServerConfig } from '../../server/index.ts';
import { ConfigError } from '../../server/errors.ts';
import { testLog } from '../support/logger.ts';

const cluster = { nats: { servers: ['nats://127.0.0.1:4222'] }, mqttUrls: ['mqtt://127.0.0.1:1883'] };

describe('cluster mode, pure parts', () => {
  it('spreads every partition over the live servers exactly once, the same on every server', () => {
    const members = ['gw-b', 'gw-a', 'gw-c'];
    const shares = members.map((m) => assignedTo(m, members, 16));
    expect(shares.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    for (const s of shares) expect(s.length).toBeGreaterThanOrEqual(5);
    // alone (the others' heartbeats lapsed), a server takes them all; it counts itself even before its first heartbeat is listed
    expect(assignedTo('gw-a', [], 4)).toEqual([0, 1, 2, 3]);
    expect(assignedTo('gw-a', ['gw-b'], 4)).toEqual([0, 2]);
  });

  it('maps stream subjects back to the MQTT topics the ingest takes, and nothing else', () => {
    expect(topicOfSubject('gw.r.3.s1.agentA')).toBe('gridwatch/v1/s1/agentA/readings');
    expect(topicOfSubject('gw.c.0.s1')).toBe('gridwatch/v1/s1/call');
    for (const bad of ['gw.r.3.s1', 'gw.x.1.s1.a', 'gridwatch.v1.s1.a.readings', 'gw.c.1.s1.extra']) expect(topicOfSubject(bad)).toBeNull();
  });

  it('computes FNV-1a 32 as specified (the NATS mapping partition)', () => {
    expect(fnv1a32(new TextEncoder().encode(''))).toBe(0x811c9dc5);
    expect(fnv1a32(new TextEncoder().encode('a'))).toBe(0xe40c292c);
    expect(partitionOf('a', 7)).toBe(0xe40c292c % 7);
  });

  it('numbers alarm transitions uniquely across servers, each above every seq seen', () => {
    // two servers, slots 3 and 700, after a journal that ended at 41 (seqs of a single server)
    let seen = 41;
    const out: number[] = [];
    for (const slot of [3, 700, 700, 3, 3, 700]) {
      const s = nextSeq(seen, slot);
      expect(s).toBeGreaterThan(seen);
      expect(s % SLOTS).toBe(slot);
      out.push(s);
      seen = s;
    }
    expect(new Set(out).size).toBe(out.length);
    // a server that has not seen the other's latest still never writes its seq: the slots differ
    expect(nextSeq(5 * SLOTS + 700, 3)).toBe(6 * SLOTS + 3);
    expect(nextSeq(5 * SLOTS + 3, 700)).toBe(6 * SLOTS + 700);
  });

  it('refuses a cluster without InfluxDB, a renewal slower than half the lease, and a bad NATS URL', () => {
    expect(() => createServer(loadServerConfig({ cluster }), { log: testLog })).toThrow(ConfigError);
    expect(() => createServer(loadServerConfig({ cluster }), { log: testLog })).toThrow(/cluster: needs influx/);
    expect(() => loadServerConfig({ cluster: { ...cluster, leaseTtlMs: 4000, renewMs: 3000 } })).toThrow(/renewMs must be at most half of leaseTtlMs/);
    expect(() => loadServerConfig({ cluster: { ...cluster, nats: { servers: ['http://x:1'] } } })).toThrow(/cluster\.nats\.servers\[0\]: a nats:\/\/host:port URL/);
    expect(loadServerConfig({ cluster, influx: { url: 'http://127.0.0.1:8086' } }).cluster?.partitions).toBe(16);
  });
});
