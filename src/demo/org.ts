import type { OrgTreeSpec } from '../modules/org';

/**
 * The demo brand's organisation (总部统筹-区域协同-终端执行): headquarters, a store region with two
 * stores, the online operations centre and the community team, with the demo's touchpoints and
 * WeCom staff on them. `siyu seed` and the `npm start` demo set it up when a workspace has no tree.
 */
export const DEMO_ORG: OrgTreeSpec = {
  nodes: [
    { key: 'hq', name: '总部', parentKey: null },
    { key: 'east', name: '华东大区', parentKey: 'hq' },
    { key: 'store_sh_01', name: '上海南京西路店', parentKey: 'east' },
    { key: 'store_hz_02', name: '杭州湖滨店', parentKey: 'east' },
    { key: 'online', name: '线上运营中心', parentKey: 'hq' },
    { key: 'mini_program', name: '小程序运营', parentKey: 'online' },
    { key: 'content', name: '内容营销', parentKey: 'online' },
    { key: 'live', name: '直播间', parentKey: 'online' },
    { key: 'app_web', name: 'App 与 H5', parentKey: 'online' },
    { key: 'community', name: '社群私域', parentKey: 'hq' },
  ],
  touchpoints: {
    qr_store_01: 'store_sh_01',
    pos_checkout: 'store_sh_01',
    qr_store_02: 'store_hz_02',
    mp_home: 'mini_program',
    mp_member_day: 'mini_program',
    coupon_1111: 'mini_program',
    article_1101: 'content',
    oa_menu: 'content',
    oa_welcome: 'content',
    note_spring: 'content',
    note_review_12: 'content',
    short_video_07: 'content',
    live_0918: 'live',
    dy_shop: 'live',
    push_1020: 'app_web',
    app_home: 'app_web',
    app_banner_03: 'app_web',
    sem_brand: 'app_web',
    h5_campaign_618: 'app_web',
    group_vip_01: 'community',
    staff_card: 'community',
  },
  staff: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`staff_${String(i + 1).padStart(2, '0')}`, i < 6 ? 'store_sh_01' : 'store_hz_02'])),
};
