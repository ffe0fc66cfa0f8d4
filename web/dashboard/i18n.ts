/** Chinese and English labels. The choice is kept in localStorage (it is not a secret). */
export type Lang = 'zh' | 'en';

const LANG_STORAGE = 'siyu.dashboard.lang';

const MESSAGES = {
  title: { zh: '私域看板', en: 'Dashboard' },
  'login.heading': { zh: '登录', en: 'Sign in' },
  'login.help': {
    zh: '输入本工作区的 API 密钥（READ、ANALYST 或 ADMIN）。密钥只保存在本标签页的会话中。',
    en: 'Enter an API key of the workspace (READ, ANALYST or ADMIN). It is kept in this tab’s session only.',
  },
  'login.key': { zh: 'API 密钥', en: 'API key' },
  'login.submit': { zh: '登录', en: 'Sign in' },
  'login.ingestRole': { zh: 'INGEST 密钥只能写入事件，不能查看看板。', en: 'An INGEST key can only write events; it cannot read the dashboard.' },
  logout: { zh: '退出', en: 'Sign out' },
  language: { zh: 'English', en: '中文' },
  timeZone: { zh: '时区', en: 'Time zone' },
  updatedAt: { zh: '更新于', en: 'Updated' },
  'status.connecting': { zh: '连接中…', en: 'Connecting…' },
  'status.live': { zh: '实时', en: 'Live' },
  'status.offline': { zh: '已断开，重连中…', en: 'Disconnected, retrying…' },
  'change.vsPrevious': { zh: '较前一日', en: 'vs previous day' },
  'change.none': { zh: '无可比数据', en: 'no comparison' },
  'section.kpis': { zh: '今日核心指标', en: 'Today' },
  'section.daily': { zh: '近 30 天趋势', en: 'Last 30 days' },
  'section.hourly': { zh: '近 24 小时', en: 'Last 24 hours' },
  'section.channels': { zh: '今日渠道与触点分布', en: 'Channels and touchpoints today' },
  'section.funnel': { zh: '生命周期漏斗（近 30 天）', en: 'Lifecycle funnel (last 30 days)' },
  'section.health': { zh: '健康度分布', en: 'Health tiers' },
  'section.alerts': { zh: '告警', en: 'Alerts' },
  'metric.DAU': { zh: '日活', en: 'DAU' },
  'metric.ACTIVE_USERS': { zh: '活跃用户', en: 'Active users' },
  'metric.NEW_PROFILES': { zh: '新增用户', en: 'New profiles' },
  'metric.CONVERSION_RATE': { zh: '转化率', en: 'Conversion' },
  'metric.GMV': { zh: 'GMV', en: 'GMV' },
  'metric.ORDERS': { zh: '订单数', en: 'Orders' },
  'metric.RETENTION_D1': { zh: '次日留存率', en: 'D1 retention' },
  'metric.REPURCHASE_RATE': { zh: '复购率', en: 'Repurchase rate' },
  'channel.column': { zh: '渠道', en: 'Channel' },
  'channel.none': { zh: '今日暂无渠道数据', en: 'No channel activity today' },
  'touchpoint.column': { zh: '触点', en: 'Touchpoint' },
  'touchpoint.none': { zh: '今日暂无触点数据', en: 'No touchpoint activity today' },
  'section.org': { zh: '今日组织分布', en: 'Organisation today' },
  'org.column': { zh: '组织', en: 'Org node' },
  'org.none': { zh: '今日此组织暂无数据', en: 'No activity here today' },
  'org.top': { zh: '全部', en: 'All' },
  'org.unassigned': { zh: '未分配', en: 'Unassigned' },
  'org.direct': { zh: '直属', en: 'direct' },
  'org.drill': { zh: '查看下级', en: 'Show the level below' },
  // A breakdown key of "" (events without `context.touchpoint`).
  'breakdown.none': { zh: '无', en: 'none' },
  loading: { zh: '加载中…', en: 'Loading…' },
  'funnel.reached': { zh: '到达', en: 'reached' },
  'funnel.current': { zh: '当前', en: 'now' },
  'funnel.conversion': { zh: '转化', en: 'conversion' },
  // The default stage model's stages (custom models show their own names).
  'stage.awareness': { zh: '认知', en: 'Awareness' },
  'stage.interest': { zh: '兴趣', en: 'Interest' },
  'stage.purchase': { zh: '购买', en: 'Purchase' },
  'stage.loyalty': { zh: '忠诚', en: 'Loyalty' },
  'stage.advocacy': { zh: '推荐', en: 'Advocacy' },
  'stage.silent': { zh: '沉默', en: 'Silent' },
  'stage.churned': { zh: '流失', en: 'Churned' },
  'funnel.wakeUps': { zh: '沉默唤醒', en: 'Wake-ups' },
  'tier.healthy': { zh: '健康', en: 'Healthy' },
  'tier.stable': { zh: '稳定', en: 'Stable' },
  'tier.at_risk': { zh: '风险', en: 'At risk' },
  'tier.dormant': { zh: '沉睡', en: 'Dormant' },
  'alerts.none': { zh: '暂无告警', en: 'No alerts' },
  'alerts.acknowledge': { zh: '确认', en: 'Acknowledge' },
  'alerts.recordRootCause': { zh: '记录根因', en: 'Record root cause' },
  'alerts.rootCausePlaceholder': { zh: '根因是什么？', en: 'What caused it?' },
  'alerts.resolve': { zh: '解决', en: 'Resolve' },
  'alerts.resolvePlaceholder': { zh: '改进措施（可选）', en: 'What was done (optional)' },
  'alerts.rootCause': { zh: '根因', en: 'Root cause' },
  'alerts.resolution': { zh: '改进', en: 'Fix' },
  'alerts.due': { zh: '时限', en: 'due' },
  'alerts.escalated': { zh: '已升级', en: 'escalated' },
  'alerts.history': { zh: '处理记录', en: 'History' },
  'alertAction.RAISED': { zh: '触发', en: 'Raised' },
  'alertAction.ACKNOWLEDGED': { zh: '确认', en: 'Acknowledged' },
  'alertAction.ROOT_CAUSE_RECORDED': { zh: '记录根因', en: 'Root cause' },
  'alertAction.RESOLVED': { zh: '解决', en: 'Resolved' },
  'alertAction.ESCALATED': { zh: '升级', en: 'Escalated' },
  'alerts.value': { zh: '值', en: 'value' },
  'alerts.reference': { zh: '阈值', en: 'reference' },
  'level.URGENT': { zh: '紧急', en: 'Urgent' },
  'level.IMPORTANT': { zh: '重要', en: 'Important' },
  'level.NORMAL': { zh: '一般', en: 'Normal' },
  'alertStatus.OPEN': { zh: '待处理', en: 'Open' },
  'alertStatus.ACKNOWLEDGED': { zh: '已确认', en: 'Acknowledged' },
  'alertStatus.ROOT_CAUSE_RECORDED': { zh: '已定位根因', en: 'Root cause recorded' },
  'alertStatus.RESOLVED': { zh: '已解决', en: 'Resolved' },
} satisfies Record<string, Record<Lang, string>>;

export type MessageKey = keyof typeof MESSAGES;

let lang: Lang = initialLang();

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(LANG_STORAGE);
    if (saved === 'zh' || saved === 'en') return saved;
  } catch {
    // Storage disabled: fall back to the browser's language.
  }
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function currentLang(): Lang {
  return lang;
}

export function setLang(next: Lang): void {
  lang = next;
  try {
    localStorage.setItem(LANG_STORAGE, next);
  } catch {
    // Not kept across reloads then.
  }
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
  applyStaticLabels();
}

/** The label for a key in the current language; unknown keys come back as themselves. */
export function t(key: string): string {
  const entry = (MESSAGES as Record<string, Record<Lang, string>>)[key];
  return entry ? entry[lang] : key;
}

/** Relabels every element carrying `data-i18n="<key>"` (and `data-i18n-placeholder`). */
export function applyStaticLabels(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n]')) el.textContent = t(el.dataset.i18n!);
  for (const el of root.querySelectorAll<HTMLInputElement>('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder!);
}
