/** The MQTT policy as a pure function, and the Mosquitto ACL rendered from it. */
import { describe, expect, it } from 'vitest';
import { authorize, clientIdAllowed, isServerUsername, renderMosquittoAcl, stripShare, type MqttIdentity } from '../../server/mqtt-policy.ts';

const x: MqttIdentity = { kind: 'agent', agent: 'ax', site: 's1' };
const server: MqttIdentity = { kind: 'server', username: 'gridwatch-server' };

describe('mqtt policy', () => {
  it('agents: exact topics only, wildcards in a filter give nothing', () => {
    expect(authorize(x, 'publish', 'gridwatch/v1/s1/ax/readings')).toBe(true);
    expect(authorize(x, 'publish', 'gridwatch/v1/s1/ax/readings/')).toBe(false);
    expect(authorize(x, 'publish', 'gridwatch/v1/s1/+/readings')).toBe(false);
    expect(authorize(x, 'subscribe', 'gridwatch/v1/agent/ax/watermark')).toBe(true);
    expect(authorize(x, 'subscribe', 'gridwatch/v1/agent/+/watermark')).toBe(false);
    expect(authorize(x, 'subscribe', '$share/g/gridwatch/v1/agent/ax/watermark')).toBe(false);
    expect(authorize(x, 'subscribe', '$SYS/#')).toBe(false);
  });

  it('the server: reads under the root (shared subscriptions too), writes watermarks and its presence only', () => {
    expect(authorize(server, 'subscribe', '$share/grp/gridwatch/v1/+/+/readings')).toBe(true);
    expect(authorize(server, 'subscribe', 'gridwatch/v1/#')).toBe(true);
    expect(authorize(server, 'subscribe', '#')).toBe(false);
    expect(authorize(server, 'subscribe', '$share/grp/#')).toBe(false);
    expect(authorize(server, 'subscribe', '$share/')).toBe(false);
    expect(authorize(server, 'publish', 'gridwatch/v1/agent/a.b-c/watermark')).toBe(true);
    expect(authorize(server, 'publish', 'gridwatch/v1/agent/+/watermark')).toBe(false);
    expect(authorize(server, 'publish', 'gridwatch/v1/agent/a/b/watermark')).toBe(false);
    expect(stripShare('$share/g/a/b')).toBe('a/b');
  });

  it('client ids and server user names', () => {
    expect(clientIdAllowed(x, 'ax')).toBe(true);
    expect(clientIdAllowed(x, 'gridwatch-agent-ax')).toBe(true);
    expect(clientIdAllowed(x, 'gridwatch-agent-ax-room')).toBe(false);
    expect(clientIdAllowed(x, 'ay')).toBe(false);
    expect(clientIdAllowed(server, 'anything')).toBe(true);
    expect(isServerUsername('gridwatch-server-2')).toBe(true);
    expect(isServerUsername('gridwatch-serverx')).toBe(false);
    expect(isServerUsername('gridwatch-server-a/b')).toBe(false);
  });

  it('the ACL grants anonymous clients nothing: every topic line is inside a user block', () => {
    const acl = renderMosquittoAcl([{ agent: 'ax', site: 's1' }]);
    const lines = acl.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('user gridwatch-server');
    expect(lines.some((l) => l.startsWith('pattern'))).toBe(false);
    expect(acl).toContain('user ax\ntopic write gridwatch/v1/s1/ax/readings\ntopic write gridwatch/v1/agent/ax/state\ntopic write gridwatch/v1/s1/call\ntopic read gridwatch/v1/agent/ax/watermark\ntopic read gridwatch/v1/server/state\n');
  });
});
