// Believable Chinese demo data (buyers, creators, shops, products, addresses) for
// the seed command, screenshots and benchmarks. Everything comes from one seed so
// a demo database, and any bug report made against it, can be rebuilt exactly.

export interface DemoCategory {
  slug: string;
  nameZh: string;
  nameEn: string;
}

export const DEMO_CATEGORIES: readonly DemoCategory[] = [
  { slug: 'beauty', nameZh: '美妆个护', nameEn: 'Beauty & personal care' },
  { slug: 'apparel', nameZh: '服饰鞋包', nameEn: 'Apparel, shoes & bags' },
  { slug: 'food', nameZh: '食品饮料', nameEn: 'Food & drinks' },
  { slug: 'home', nameZh: '家居日用', nameEn: 'Home & daily use' },
  { slug: 'electronics', nameZh: '数码家电', nameEn: 'Electronics & appliances' },
  { slug: 'baby', nameZh: '母婴', nameEn: 'Mother & baby' },
  { slug: 'jewelry', nameZh: '珠宝配饰', nameEn: 'Jewelry & accessories' },
  { slug: 'fresh', nameZh: '生鲜', nameEn: 'Fresh produce' },
];

export interface DemoAddress {
  province: string;
  city: string;
  district: string;
  detail: string;
}

/** Real province / city / district triples; municipalities repeat the name as city. */
export const DEMO_REGIONS: readonly { province: string; city: string; districts: readonly string[] }[] = [
  { province: '北京市', city: '北京市', districts: ['朝阳区', '海淀区', '东城区', '西城区', '丰台区'] },
  { province: '上海市', city: '上海市', districts: ['浦东新区', '徐汇区', '静安区', '黄浦区', '闵行区'] },
  { province: '天津市', city: '天津市', districts: ['和平区', '南开区', '河西区'] },
  { province: '重庆市', city: '重庆市', districts: ['渝中区', '江北区', '南岸区', '沙坪坝区'] },
  { province: '广东省', city: '广州市', districts: ['天河区', '越秀区', '海珠区', '番禺区'] },
  { province: '广东省', city: '深圳市', districts: ['南山区', '福田区', '宝安区', '龙岗区'] },
  { province: '浙江省', city: '杭州市', districts: ['西湖区', '余杭区', '滨江区', '拱墅区'] },
  { province: '浙江省', city: '宁波市', districts: ['鄞州区', '海曙区'] },
  { province: '江苏省', city: '南京市', districts: ['玄武区', '鼓楼区', '建邺区'] },
  { province: '江苏省', city: '苏州市', districts: ['姑苏区', '吴中区', '虎丘区'] },
  { province: '江苏省', city: '无锡市', districts: ['梁溪区', '滨湖区'] },
  { province: '四川省', city: '成都市', districts: ['武侯区', '锦江区', '青羊区', '成华区'] },
  { province: '湖北省', city: '武汉市', districts: ['武昌区', '洪山区', '江汉区'] },
  { province: '湖南省', city: '长沙市', districts: ['岳麓区', '芙蓉区', '天心区'] },
  { province: '陕西省', city: '西安市', districts: ['雁塔区', '碑林区', '未央区'] },
  { province: '山东省', city: '济南市', districts: ['历下区', '市中区'] },
  { province: '山东省', city: '青岛市', districts: ['市南区', '崂山区', '黄岛区'] },
  { province: '福建省', city: '厦门市', districts: ['思明区', '湖里区'] },
  { province: '福建省', city: '福州市', districts: ['鼓楼区', '台江区'] },
  { province: '河南省', city: '郑州市', districts: ['金水区', '二七区', '中原区'] },
  { province: '河北省', city: '石家庄市', districts: ['长安区', '桥西区'] },
  { province: '辽宁省', city: '沈阳市', districts: ['和平区', '沈河区'] },
  { province: '辽宁省', city: '大连市', districts: ['中山区', '沙河口区'] },
  { province: '吉林省', city: '长春市', districts: ['朝阳区', '南关区'] },
  { province: '黑龙江省', city: '哈尔滨市', districts: ['南岗区', '道里区'] },
  { province: '安徽省', city: '合肥市', districts: ['蜀山区', '包河区'] },
  { province: '江西省', city: '南昌市', districts: ['东湖区', '西湖区'] },
  { province: '云南省', city: '昆明市', districts: ['五华区', '盘龙区'] },
  { province: '贵州省', city: '贵阳市', districts: ['南明区', '云岩区'] },
  { province: '广西壮族自治区', city: '南宁市', districts: ['青秀区', '兴宁区'] },
  { province: '海南省', city: '海口市', districts: ['龙华区', '美兰区'] },
  { province: '山西省', city: '太原市', districts: ['小店区', '迎泽区'] },
  { province: '内蒙古自治区', city: '呼和浩特市', districts: ['新城区', '赛罕区'] },
  { province: '新疆维吾尔自治区', city: '乌鲁木齐市', districts: ['天山区', '沙依巴克区'] },
  { province: '甘肃省', city: '兰州市', districts: ['城关区', '七里河区'] },
];

// Mainland mobile prefixes in everyday use. 162/165/167/170/171 are left out on
// purpose: they belong to virtual operators and are what the privacy module's
// virtual numbers (隐私号) use, so a demo buyer must never look like one.
const MOBILE_PREFIXES: readonly string[] = (
  '130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 ' +
  '155 156 157 158 159 166 173 175 176 177 178 180 181 182 183 ' +
  '184 185 186 187 188 189 191 193 195 198 199'
).split(' ');

const SURNAMES: readonly string[] = (
  '王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 ' +
  '彭 曾 肖 田 董 袁 潘 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 石 廖'
).split(' ');
const COMPOUND_SURNAMES = ['欧阳', '司马', '上官', '诸葛', '东方', '皇甫', '慕容', '令狐'] as const;
const GIVEN_NAME_CHARS: readonly string[] = (
  '伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 英 华 玉 兰 萍 鹏 辉 文 ' +
  '宇 浩 晨 欣 怡 婷 雪 琳 子 涵 梓 轩 博 思 佳 雨 嘉 一 诺 悦 晓 俊 凯 鑫 彤 可 昊 然 萱 睿'
).split(' ');

const ROADS: readonly string[] = (
  '建国路 人民路 解放路 中山路 和平路 文化路 新华路 学府路 科技路 滨江大道 花园路 青年路 胜利路 友谊路 东风路 ' +
  '光明路 幸福路 长江路 黄河路 迎宾大道'
).split(' ');
const COMMUNITIES: readonly string[] =
  '阳光花园 锦绣家园 翠湖苑 金色港湾 书香门第 幸福里 江南名府 御景华庭 紫荆小区 东方明珠苑'.split(' ');
const TOWERS = ['国贸大厦', '时代广场', '金融中心', '科技大厦', '创业园'] as const;

const SHOP_STEMS: readonly string[] = (
  '山野臻选 小鹿家居 云岭茶业 暖阳母婴 拾光饰品 星河数码 花间集 鲜果时光 江南布艺 禾丰粮油 悦颜美妆 简约生活 ' +
  '北纬果园 青禾童装 匠心木作 海之味'
).split(' ');
const SHOP_SUFFIXES = [
  '旗舰店',
  '官方旗舰店',
  '专营店',
  '专卖店',
  '的小店',
  '好物馆',
  '生活馆',
  '严选',
] as const;

const NICK_HEADS: readonly string[] =
  '小鹿 阿杰 大橙子 小七 糖糖 木子 阿花 胖虎 喵小姐 兔兔 老王 小鱼儿 豆豆 阿珍'.split(' ');
const NICK_LINKS = ['爱', '说', '聊', '逛', '的'] as const;
const NICK_TOPICS = ['美妆', '穿搭', '好物', '美食', '数码', '生活', '母婴', '家居', '珠宝', '生鲜'] as const;
const NICK_ROLES = ['达人', '种草官', '测评君', '小当家', '选品官'] as const;

interface TitlePart {
  item: string;
  pre: readonly string[];
  spec: readonly string[];
}

// Per item, only prefixes and specs that go together, so titles read like real
// listings ('云南高山普洱茶 357g 饼茶', not '阳澄湖普洱茶').
const TITLES: Readonly<Record<string, { parts: readonly TitlePart[]; tags: readonly string[] }>> = {
  beauty: {
    parts: [
      { item: '玻尿酸补水面膜', pre: ['深层', '密集'], spec: ['25ml×10片', '30ml×5片'] },
      { item: '烟酰胺精华液', pre: ['提亮', '修护'], spec: ['30ml', '50ml'] },
      { item: '氨基酸洗面奶', pre: ['温和', '控油'], spec: ['120g', '150ml'] },
      { item: '丝绒哑光口红', pre: ['显白', '不沾杯'], spec: ['3.5g', '3.5g 礼盒装'] },
      { item: '清爽防晒霜', pre: ['SPF50+', '轻薄'], spec: ['50ml', '60g'] },
      { item: '洗发水', pre: ['无硅油', '去屑'], spec: ['500ml', '750ml'] },
    ],
    tags: ['敏感肌可用', '官方正品', '学生党', '囤货装'],
  },
  apparel: {
    parts: [
      { item: '纯棉T恤', pre: ['2024新款', '宽松'], spec: ['男女同款', 'S-XXL'] },
      { item: '羽绒服', pre: ['白鸭绒', '加厚'], spec: ['中长款', '短款连帽'] },
      { item: '牛仔裤', pre: ['高腰', '直筒'], spec: ['显瘦', '九分'] },
      { item: '老爹鞋', pre: ['厚底', '透气'], spec: ['35-40码', '增高5cm'] },
      { item: '羊毛针织衫', pre: ['圆领', '慵懒风'], spec: ['秋冬', '多色可选'] },
      { item: '真皮托特包', pre: ['大容量', '通勤'], spec: ['头层牛皮', '单肩手提'] },
    ],
    tags: ['包邮', '当季新品', '顺丰速发'],
  },
  food: {
    parts: [
      { item: '普洱茶', pre: ['云南高山', '西双版纳古树'], spec: ['357g 饼茶', '200g 散茶'] },
      { item: '大红袍', pre: ['福建武夷山', '岩茶'], spec: ['250g 罐装', '礼盒装'] },
      { item: '每日坚果', pre: ['混合', '原味'], spec: ['25g×30袋', '750g'] },
      { item: '牛肉干', pre: ['内蒙古', '风干'], spec: ['500g', '250g×2袋'] },
      { item: '螺蛳粉', pre: ['广西柳州', '正宗'], spec: ['400g×5袋', '330g×3袋'] },
      { item: '五常大米', pre: ['东北', '稻花香'], spec: ['5kg', '10kg'] },
    ],
    tags: ['产地直发', '新日期', '整箱装'],
  },
  home: {
    parts: [
      { item: '四件套', pre: ['全棉', '水洗棉'], spec: ['1.5m床', '1.8m床'] },
      { item: '乳胶枕', pre: ['泰国天然', '护颈'], spec: ['一对装', '单只装'] },
      { item: '收纳箱', pre: ['加厚', '可折叠'], spec: ['3个装', '大号66L'] },
      { item: '抽纸', pre: ['原生木浆', '柔韧'], spec: ['3层100抽×24包', '4层80抽×18包'] },
      { item: '不粘锅', pre: ['麦饭石', '家用'], spec: ['28cm', '30cm 带盖'] },
      { item: '洗衣凝珠', pre: ['持久留香', '除菌'], spec: ['52颗', '100颗'] },
    ],
    tags: ['家用', '囤货', '包邮'],
  },
  electronics: {
    parts: [
      { item: '蓝牙耳机', pre: ['主动降噪', '半入耳'], spec: ['长续航', '无线充电盒'] },
      { item: '充电宝', pre: ['22.5W快充', '超薄'], spec: ['10000mAh', '20000mAh'] },
      { item: '空气炸锅', pre: ['可视', '家用'], spec: ['5L', '6.5L'] },
      { item: '电动牙刷', pre: ['声波', '软毛'], spec: ['送3支刷头', '礼盒装'] },
      { item: '智能手表', pre: ['心率血氧', '运动'], spec: ['1.43英寸', '长续航14天'] },
      { item: '吹风机', pre: ['高速', '负离子'], spec: ['1800W', '速干护发'] },
    ],
    tags: ['全国联保', '官方正品', '以旧换新'],
  },
  baby: {
    parts: [
      { item: '纸尿裤', pre: ['超薄', '透气'], spec: ['L码 54片', 'XL码 46片'] },
      { item: '婴儿湿巾', pre: ['手口专用', '无香'], spec: ['80抽×10包', '60抽×6包'] },
      { item: '婴儿奶粉', pre: ['A2蛋白', '3段'], spec: ['800g', '800g×2罐'] },
      { item: '儿童保温杯', pre: ['316不锈钢', '吸管'], spec: ['400ml', '500ml'] },
      { item: '婴儿连体衣', pre: ['纯棉', '新生儿'], spec: ['59-90cm', '3件装'] },
    ],
    tags: ['宝妈推荐', '官方正品', '母婴店同款'],
  },
  jewelry: {
    parts: [
      { item: '足金手链', pre: ['古法', '转运珠'], spec: ['约3.2g', '约5g'] },
      { item: '淡水珍珠项链', pre: ['强光', '近圆'], spec: ['7-8mm', '8-9mm'] },
      { item: '925银耳钉', pre: ['简约', '小众'], spec: ['一对', '礼盒装'] },
      { item: '和田玉手镯', pre: ['青白玉', '圆条'], spec: ['56-58圈口', '附证书'] },
      { item: '莫桑钻戒指', pre: ['六爪', '18K金'], spec: ['1克拉', '50分'] },
    ],
    tags: ['送女友', '礼盒包装', '七夕礼物'],
  },
  fresh: {
    parts: [
      { item: '阳澄湖大闸蟹', pre: ['鲜活', '公母'], spec: ['4两×8只', '3.5两×10只'] },
      { item: '赣南脐橙', pre: ['江西', '当季'], spec: ['5斤', '10斤 大果'] },
      { item: '智利车厘子', pre: ['JJ级', '进口'], spec: ['2斤', '5斤 礼盒'] },
      { item: '烟台红富士', pre: ['山东', '脆甜'], spec: ['5斤', '10斤 85mm+'] },
      { item: '黑猪五花肉', pre: ['散养', '冷鲜'], spec: ['500g', '1kg'] },
      { item: '舟山带鱼', pre: ['东海', '整条'], spec: ['1kg', '2.5kg'] },
    ],
    tags: ['顺丰冷链', '产地直发', '坏果包赔'],
  },
};

const GENERIC_TITLES = {
  parts: [
    { item: '精选好物', pre: ['热销', '新品'], spec: ['组合装', '单件'] },
    { item: '礼盒', pre: ['节日', '精美'], spec: ['送礼佳品', '标准装'] },
  ],
  tags: ['包邮', '限时特惠'],
} as const;

export interface Faker {
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  pick<T>(xs: readonly T[]): T;
  personName(): string;
  mobile(): string;
  address(): DemoAddress;
  shopName(): string;
  /** Accepts a category slug, Chinese or English name; anything else gets a generic title. */
  productTitle(category: string): string;
  nickname(): string;
}

/**
 * mulberry32: a 32-bit seeded PRNG in a few lines. Demo data only needs to be
 * reproducible and look random, not to be unpredictable, so this beats adding a
 * dependency (and Math.random cannot be seeded).
 */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createFaker(seed: number): Faker {
  const next = mulberry32(seed);

  const int = (min: number, max: number): number => {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) {
      throw new RangeError(`int(${min}, ${max}): need integers with min <= max`);
    }
    return min + Math.floor(next() * (max - min + 1));
  };

  const pick = <T>(xs: readonly T[]): T => {
    if (xs.length === 0) throw new RangeError('pick() from an empty list');
    return xs[int(0, xs.length - 1)]!;
  };

  const chance = (p: number): boolean => next() < p;

  const personName = (): string => {
    // Compound surnames are rare in real life; about 1 in 20 keeps them visible in demos.
    const surname = chance(0.05) ? pick(COMPOUND_SURNAMES) : pick(SURNAMES);
    const length = chance(0.7) ? 2 : 1;
    let given = '';
    for (let i = 0; i < length; i++) given += pick(GIVEN_NAME_CHARS);
    return surname + given;
  };

  const mobile = (): string => {
    let rest = '';
    for (let i = 0; i < 8; i++) rest += String(int(0, 9));
    return pick(MOBILE_PREFIXES) + rest;
  };

  const addressDetail = (): string => {
    const floor = int(1, 32);
    const room = `${floor}${String(int(1, 4)).padStart(2, '0')}`;
    switch (int(0, 2)) {
      case 0:
        return `${pick(ROADS)}${int(1, 999)}号院${int(1, 20)}号楼${int(1, 6)}单元${room}室`;
      case 1:
        return `${pick(ROADS)}${int(1, 999)}号${pick(COMMUNITIES)}${int(1, 30)}栋${int(1, 4)}单元${room}室`;
      default:
        return `${pick(ROADS)}${int(1, 999)}号${pick(TOWERS)}${floor}层${room}室`;
    }
  };

  const address = (): DemoAddress => {
    const region = pick(DEMO_REGIONS);
    return {
      province: region.province,
      city: region.city,
      district: pick(region.districts),
      detail: addressDetail(),
    };
  };

  const shopName = (): string => `${pick(SHOP_STEMS)}${pick(SHOP_SUFFIXES)}`;

  const productTitle = (category: string): string => {
    const key = DEMO_CATEGORIES.find(
      (c) => c.slug === category || c.nameZh === category || c.nameEn === category,
    )?.slug;
    const table = (key && TITLES[key]) || GENERIC_TITLES;
    const part = pick(table.parts);
    const title = `${pick(part.pre)}${part.item} ${pick(part.spec)}`;
    return chance(0.5) ? `${title} ${pick(table.tags)}` : title;
  };

  const nickname = (): string => {
    switch (int(0, 2)) {
      case 0:
        return `${pick(NICK_HEADS)}${pick(NICK_LINKS)}${pick(NICK_TOPICS)}`;
      case 1:
        return `${pick(NICK_TOPICS)}${pick(NICK_ROLES)}${pick(NICK_HEADS)}`;
      default:
        return `${pick(NICK_HEADS)}的${pick(NICK_TOPICS)}日记`;
    }
  };

  return { int, pick, personName, mobile, address, shopName, productTitle, nickname };
}
