import { createContext, useContext } from 'react';

/** UI text, Chinese first. Every key in `zh` must exist in `en` (the type enforces it). */
const zh = {
  brand: 'Livecart 小店',
  tagline: '直播电商 · 闭环交易 · 买家隐私保护',
  navHome: '首页',
  navMerchantOrders: '商家订单',
  navDocs: 'API 文档',
  langToggle: 'EN',
  langToggleTitle: 'Switch to English',
  logout: '退出登录',
  loggedInAs: '已登录：',
  loading: '加载中…',
  retry: '重试',
  networkError: '网络错误，请稍后重试。',

  homeLiveNow: '正在直播',
  homeNoRooms: '暂时没有正在直播的直播间。',
  homeEnterRoom: '进入直播间',
  homeStartedAt: '开播于',
  homeMerchantTitle: '商家后台',
  homeMerchantText: '查看店铺订单（买家信息已脱敏）并发货。',
  homeDocsTitle: '开放接口',
  homeDocsText: '查看 OpenAPI 文档与在线调试。',

  roomStatus_live: '直播中',
  roomStatus_scheduled: '预告',
  roomStatus_ended: '已结束',
  roomHost: '主播',
  roomPaidOrders: '已售订单',
  roomNotFound: '直播间不存在。',
  pinned: '讲解中',
  cartTitle: '小黄车',
  cartEmpty: '购物车里还没有商品。',
  shop: '店铺',
  stock: '库存',
  soldOut: '已售罄',
  select: '选择',
  selected: '已选',
  sku: '规格',
  quantity: '数量',
  decrease: '减少',
  increase: '增加',
  total: '合计',
  recipientTitle: '收货信息',
  recipientName: '收货人',
  recipientPhone: '手机号',
  recipientProvince: '省份',
  recipientCity: '城市',
  recipientDistrict: '区县',
  recipientDetail: '详细地址',
  privacyNote: '收货信息加密存储，商家只能看到脱敏信息。',
  buyNow: '立即购买',
  buying: '提交中…',
  chooseSku: '请先选择商品规格。',
  roomNotLive: '直播间当前不可下单。',
  orderPlaced: '下单成功，待支付',
  orderPaid: '支付成功',
  orderId: '订单号',
  orderStatus: '订单状态',
  orderTotal: '订单金额',
  maskedRecipient: '收货人（脱敏）',
  continueShopping: '继续购物',

  loginTitle: '登录',
  loginToBuy: '登录后即可购买',
  loginAccount: '账号',
  loginPassword: '密码',
  loginSubmit: '登录',
  loggingIn: '登录中…',

  merchantTitle: '订单管理',
  merchantLoginHint: '请使用商家账号登录。',
  merchantNoShop: '当前账号没有店铺。请使用商家账号登录。',
  merchantShop: '店铺',
  filterAll: '全部',
  status_pending_payment: '待支付',
  status_paid: '已支付',
  status_shipped: '已发货',
  status_delivered: '已签收',
  status_completed: '已完成',
  status_cancelled: '已取消',
  ordersEmpty: '没有符合条件的订单。',
  loadMore: '加载更多',
  noMore: '没有更多了',
  orderTime: '下单时间',
  orderLines: '商品',
  recipient: '收货人',
  phone: '电话',
  address: '地址',
  attribution: '来源',
  venue_live_room: '直播间',
  venue_video: '短视频',
  venue_showcase: '橱窗',
  venue_search: '搜索',
  creator: '达人',
  ship: '发货',
  shipSubmit: '确认发货',
  shipping: '提交中…',
  cancel: '取消',
  carrier: '快递公司',
  trackingNo: '运单号',
  shipment: '物流',
  shippedOk: '已发货',
  carrier_SF: '顺丰',
  carrier_YTO: '圆通',
  carrier_ZTO: '中通',
  carrier_STO: '申通',
  carrier_YD: '韵达',
  carrier_JD: '京东',
  carrier_EMS: 'EMS',
  carrier_JT: '极兔',

  notFoundTitle: '页面不存在',
  backHome: '返回首页',
};

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  brand: 'Livecart Shop',
  tagline: 'Live commerce · closed-loop orders · buyer privacy',
  navHome: 'Home',
  navMerchantOrders: 'Merchant orders',
  navDocs: 'API docs',
  langToggle: '中文',
  langToggleTitle: '切换到中文',
  logout: 'Log out',
  loggedInAs: 'Logged in: ',
  loading: 'Loading…',
  retry: 'Retry',
  networkError: 'Network error, please try again.',

  homeLiveNow: 'Live now',
  homeNoRooms: 'No live rooms are broadcasting right now.',
  homeEnterRoom: 'Enter room',
  homeStartedAt: 'Started',
  homeMerchantTitle: 'Merchant console',
  homeMerchantText: "See your shop's orders (buyer data masked) and ship them.",
  homeDocsTitle: 'Open API',
  homeDocsText: 'Browse the OpenAPI reference and try requests.',

  roomStatus_live: 'LIVE',
  roomStatus_scheduled: 'Upcoming',
  roomStatus_ended: 'Ended',
  roomHost: 'Host',
  roomPaidOrders: 'Orders',
  roomNotFound: 'This live room does not exist.',
  pinned: 'Now showing',
  cartTitle: 'Shopping cart',
  cartEmpty: 'No products in the cart yet.',
  shop: 'Shop',
  stock: 'Stock',
  soldOut: 'Sold out',
  select: 'Select',
  selected: 'Selected',
  sku: 'Variant',
  quantity: 'Quantity',
  decrease: 'Decrease',
  increase: 'Increase',
  total: 'Total',
  recipientTitle: 'Shipping address',
  recipientName: 'Recipient',
  recipientPhone: 'Mobile',
  recipientProvince: 'Province',
  recipientCity: 'City',
  recipientDistrict: 'District',
  recipientDetail: 'Street address',
  privacyNote: 'Your address is stored encrypted; the shop only sees a masked copy.',
  buyNow: 'Buy now',
  buying: 'Placing order…',
  chooseSku: 'Choose a variant first.',
  roomNotLive: 'This room is not selling right now.',
  orderPlaced: 'Order placed, awaiting payment',
  orderPaid: 'Payment successful',
  orderId: 'Order ID',
  orderStatus: 'Status',
  orderTotal: 'Amount',
  maskedRecipient: 'Recipient (masked)',
  continueShopping: 'Keep shopping',

  loginTitle: 'Log in',
  loginToBuy: 'Log in to buy',
  loginAccount: 'Account',
  loginPassword: 'Password',
  loginSubmit: 'Log in',
  loggingIn: 'Logging in…',

  merchantTitle: 'Orders',
  merchantLoginHint: 'Log in with a merchant account.',
  merchantNoShop: 'This account has no shop. Log in with a merchant account.',
  merchantShop: 'Shop',
  filterAll: 'All',
  status_pending_payment: 'Awaiting payment',
  status_paid: 'Paid',
  status_shipped: 'Shipped',
  status_delivered: 'Delivered',
  status_completed: 'Completed',
  status_cancelled: 'Cancelled',
  ordersEmpty: 'No orders match.',
  loadMore: 'Load more',
  noMore: 'No more orders',
  orderTime: 'Placed',
  orderLines: 'Items',
  recipient: 'Recipient',
  phone: 'Phone',
  address: 'Address',
  attribution: 'Source',
  venue_live_room: 'Live room',
  venue_video: 'Short video',
  venue_showcase: 'Showcase',
  venue_search: 'Search',
  creator: 'Creator',
  ship: 'Ship',
  shipSubmit: 'Confirm shipment',
  shipping: 'Submitting…',
  cancel: 'Cancel',
  carrier: 'Carrier',
  trackingNo: 'Tracking no.',
  shipment: 'Shipment',
  shippedOk: 'Shipped',
  carrier_SF: 'SF Express',
  carrier_YTO: 'YTO',
  carrier_ZTO: 'ZTO',
  carrier_STO: 'STO',
  carrier_YD: 'Yunda',
  carrier_JD: 'JD Logistics',
  carrier_EMS: 'EMS',
  carrier_JT: 'J&T',

  notFoundTitle: 'Page not found',
  backHome: 'Back to home',
};

export type Lang = 'zh' | 'en';
export const dictionaries: Record<Lang, Record<MessageKey, string>> = { zh, en };

const LANG_KEY = 'livecart.lang';

export function initialLang(): Lang {
  try {
    return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
}

export function saveLang(lang: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // Storage may be disabled; the choice then lasts for this page only.
  }
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

export interface I18n {
  lang: Lang;
  t: (key: MessageKey) => string;
  /** Looks up a dynamic key such as `status_${status}`, falling back to the raw value. */
  tx: (prefix: string, value: string) => string;
  setLang: (lang: Lang) => void;
}

export function makeI18n(lang: Lang, setLang: (lang: Lang) => void): I18n {
  const dict = dictionaries[lang];
  return {
    lang,
    t: (key) => dict[key],
    tx: (prefix, value) => (dict as Record<string, string>)[`${prefix}_${value}`] ?? value,
    setLang,
  };
}

export const I18nContext = createContext<I18n>(makeI18n('zh', () => {}));
export const useI18n = () => useContext(I18nContext);
