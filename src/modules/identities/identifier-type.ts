/** The identifier types Siyu resolves (DESIGN.md §1). Namespaced types are unique only inside their namespace. */
export const IDENTIFIER_TYPES = {
  member_id: { namespaced: false, description: "The brand's own member / user id (Segment `userId`)." },
  wechat_unionid: { namespaced: true, description: 'WeChat unionid; namespace = the open-platform account that issued it.' },
  phone: { namespaced: false, description: 'Phone number, normalised to E.164 (default region CN), matched by keyed hash, stored encrypted.' },
  email: { namespaced: false, description: 'E-mail, trimmed and lower-cased, matched by keyed hash, stored encrypted.' },
  wecom_external_userid: { namespaced: true, description: 'WeCom external contact id; namespace = corp id.' },
  wechat_openid: { namespaced: true, description: 'WeChat openid; namespace = app id (official account, mini program, …): an openid is unique only inside one app.' },
  douyin_unionid: { namespaced: true, description: 'Douyin unionid; namespace = the open-platform account.' },
  douyin_openid: { namespaced: true, description: 'Douyin openid; namespace = the app (client key).' },
  xhs_user_id: { namespaced: false, description: 'Xiaohongshu user id.' },
  weibo_uid: { namespaced: false, description: 'Weibo uid.' },
  kuaishou_uid: { namespaced: false, description: 'Kuaishou uid.' },
  device_id: { namespaced: false, description: 'A device id (app / mini program device, store tablet).' },
  anonymous_id: { namespaced: false, description: 'An anonymous visitor id (Segment `anonymousId`).' },
} as const;

export type IdentifierType = keyof typeof IDENTIFIER_TYPES;

export function isIdentifierType(v: unknown): v is IdentifierType {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(IDENTIFIER_TYPES, v);
}

/** Types whose values are personal information: stored encrypted, matched by keyed hash, masked on read. */
export const PII_TYPES: ReadonlySet<IdentifierType> = new Set(['phone', 'email']);

/** Channels (DESIGN.md §1). */
export const CHANNELS = {
  wechat_oa: '公众号 WeChat official account',
  wechat_mp: '小程序 WeChat mini program',
  wechat_channels: '视频号 WeChat Channels',
  wecom: '企业微信 WeCom',
  wechat_group: '社群 WeChat group',
  douyin: '抖音 Douyin',
  xiaohongshu: '小红书 Xiaohongshu',
  weibo: '微博 Weibo',
  kuaishou: '快手 Kuaishou',
  app: 'the brand app',
  web: '官网/H5 website and H5 pages',
  store: '门店 offline store',
  sms: 'SMS',
  email: 'e-mail',
  other: 'anything else',
} as const;

export type Channel = keyof typeof CHANNELS;

export function isChannel(v: unknown): v is Channel {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(CHANNELS, v);
}
