import { createHmac } from 'node:crypto';
import { backoffMs, dingtalkSign, feishuSign, isPrivateAddress, render, webhookSignature } from '../../src/modules/destinations';

const item = { id: '42', workspaceId: 'w', kind: 'segment_change' as const, data: { segmentId: 's', segmentKey: 'buyers', segmentName: '购买用户', change: 'entered', cause: 'ingest', at: '2026-12-05T00:00:00Z' }, createdAt: new Date('2026-12-05T00:00:01Z'), profileId: null };
const NOW = new Date('2026-12-05T00:00:02.345Z');

describe('destination formats', () => {
  it('signs the webhook over "<t>.<body>" (HMAC-SHA256, hex) and carries no person unless given one', () => {
    const r = render('webhook', 'https://example.com/hook', 'secret-secret-secret', item, NOW);
    const t = Math.floor(NOW.getTime() / 1000);
    expect(r.headers['x-siyu-signature']).toBe(`t=${t},v1=${createHmac('sha256', 'secret-secret-secret').update(`${t}.${r.body}`).digest('hex')}`);
    expect(r.headers['x-siyu-signature']).toBe(webhookSignature('secret-secret-secret', t, r.body));
    expect(JSON.parse(r.body)).toEqual({ id: '42', type: 'segment.entered', workspaceId: 'w', createdAt: '2026-12-05T00:00:01.000Z', data: item.data });
    expect(JSON.parse(render('webhook', 'https://example.com/hook', 'secret-secret-secret', { ...item, profileId: 'p1' }, NOW).body).data.profileId).toBe('p1');
  });

  it('speaks the robots\' formats and signature schemes', () => {
    const wecom = render('wecom', 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', null, item, NOW);
    expect(JSON.parse(wecom.body)).toEqual({ msgtype: 'markdown', markdown: { content: expect.stringContaining('购买用户') } });
    expect(wecom.url.searchParams.get('key')).toBe('k');

    const ding = render('dingtalk', 'https://oapi.dingtalk.com/robot/send?access_token=a', 'SECabc', item, NOW);
    expect(ding.url.searchParams.get('timestamp')).toBe(String(NOW.getTime()));
    // DingTalk's documented computation: Base64(HmacSHA256(secret, timestamp + "\n" + secret)), URL-encoded.
    expect(ding.url.searchParams.get('sign')).toBe(createHmac('sha256', 'SECabc').update(`${NOW.getTime()}\nSECabc`).digest('base64'));
    expect(ding.url.toString()).toContain(`sign=${encodeURIComponent(dingtalkSign('SECabc', NOW.getTime()))}`);
    expect(JSON.parse(ding.body)).toMatchObject({ msgtype: 'markdown', markdown: { title: expect.any(String), text: expect.stringContaining('Siyu #42') } });

    const feishu = JSON.parse(render('feishu', 'https://open.feishu.cn/open-apis/bot/v2/hook/x', 'fs-secret', item, NOW).body);
    const ts = Math.floor(NOW.getTime() / 1000);
    // Feishu's documented computation: Base64(HmacSHA256(key = timestamp + "\n" + secret, message = "")).
    expect(feishu).toEqual({ msg_type: 'text', content: { text: expect.stringContaining('购买用户') }, timestamp: String(ts), sign: createHmac('sha256', `${ts}\nfs-secret`).update('').digest('base64') });
    expect(feishu.sign).toBe(feishuSign('fs-secret', ts));
  });

  it('refuses loopback, private, link-local and unique-local addresses, IPv4-mapped ones too', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '::1', 'fc00::1', 'fdff::1', 'fe80::1', '::ffff:10.0.0.1', '0.0.0.0']) expect({ a, p: isPrivateAddress(a) }).toEqual({ a, p: true });
    for (const a of ['8.8.8.8', '172.32.0.1', '172.15.255.255', '192.169.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) expect({ a, p: isPrivateAddress(a) }).toEqual({ a, p: false });
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(backoffMs(30, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffMs(30, 1000, 60_000, () => 0)).toBe(30_000);
  });
});
