import { ANY_EVENT, BIRTHDAY_EVENT, type StepDef } from './journey.definition';

/** Built-in journeys (旅程模板). */
export enum JourneyTemplateKey {
  CART_ABANDONMENT = 'cart_abandonment',
  ONBOARDING = 'onboarding',
  SILENT_WAKEUP = 'silent_wakeup',
  BIRTHDAY = 'birthday',
}

export interface JourneyTemplate {
  key: JourneyTemplateKey;
  name: string;
  description: string;
  allowReentry: boolean;
  steps: StepDef[];
}

const step = (s: Partial<StepDef> & Pick<StepDef, 'key' | 'name'> & { event: string; afterSilenceDays?: number; firstEvent?: boolean }): StepDef => ({
  key: s.key,
  name: s.name,
  match: { event: s.event, where: [], afterSilenceDays: s.afterSilenceDays ?? null, firstEvent: s.firstEvent ?? false },
  within: s.within ?? null,
  negative: s.negative ?? false,
  trigger: s.trigger ?? false,
});

export const JOURNEY_TEMPLATES: readonly JourneyTemplate[] = [
  {
    key: JourneyTemplateKey.CART_ABANDONMENT,
    name: '购物车放弃',
    description: 'Cart abandonment: a product is added to the cart and no order follows within 24 hours; the second step triggers (e.g. a reminder).',
    allowReentry: true,
    steps: [
      step({ key: 'added', name: '加购', event: 'Product Added' }),
      step({ key: 'abandoned', name: '未下单', event: 'Order Completed', within: '24h', negative: true, trigger: true }),
    ],
  },
  {
    key: JourneyTemplateKey.ONBOARDING,
    name: '新用户引导',
    description: 'New-member onboarding 新用户引导 → 激活 → 留存 → 转化: the first event of a new person, a message sent within 7 days, any further event within 7 days, an order within 30 days (triggers).',
    allowReentry: false,
    steps: [
      step({ key: 'joined', name: '新用户引导', event: ANY_EVENT, firstEvent: true }),
      step({ key: 'activated', name: '激活', event: 'Message Sent', within: '7d' }),
      step({ key: 'retained', name: '留存', event: ANY_EVENT, within: '7d' }),
      step({ key: 'converted', name: '转化', event: 'Order Completed', within: '30d', trigger: true }),
    ],
  },
  {
    key: JourneyTemplateKey.SILENT_WAKEUP,
    name: '沉默唤醒',
    description: 'Silent wake-up: any event of a person whose previous event is at least 30 days older (entered and triggered on the waking event), then an order within 7 days.',
    allowReentry: true,
    steps: [
      step({ key: 'woke', name: '唤醒', event: ANY_EVENT, afterSilenceDays: 30, trigger: true }),
      step({ key: 'converted', name: '转化', event: 'Order Completed', within: '7d' }),
    ],
  },
  {
    key: JourneyTemplateKey.BIRTHDAY,
    name: '生日关怀',
    description: 'Birthday: on the day of the `birthday` trait (`MM-DD` or `YYYY-MM-DD`) in the workspace time zone the sweep enters the person and triggers; an order within 7 days converts.',
    allowReentry: true,
    steps: [
      step({ key: 'birthday', name: '生日', event: BIRTHDAY_EVENT, trigger: true }),
      step({ key: 'converted', name: '转化', event: 'Order Completed', within: '7d' }),
    ],
  },
];
