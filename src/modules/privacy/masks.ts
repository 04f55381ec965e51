// Masks for buyer recipients. Masks are what everyone sees by default (merchant
// console, waybill preview, exports), so each one keeps just enough to recognise
// an order and never enough to reach the buyer: 张*, 138****5678, 北京市朝阳区****.
// Pure functions; they are computed once at write time and stored beside the
// ciphertext.

const STAR = '*';

/** First character (code point, so CJK and surrogate pairs stay whole) plus one '*' per remaining character. */
export function maskName(name: string): string {
  const chars = Array.from(name.trim());
  const first = chars[0];
  if (first === undefined) return '';
  return first + STAR.repeat(Math.max(1, chars.length - 1));
}

/**
 * Digits only, without the mainland country code: '+86 138-1234-5678',
 * '0086 13812345678' and '８６１３８１２３４５６７８' all give '13812345678'.
 */
export function normalizePhone(phone: string): string {
  // NFKC folds full-width digits and '＋' typed with a Chinese input method.
  let compact = phone.normalize('NFKC').replace(/[^\d+]/g, '');
  if (compact.startsWith('+86')) compact = compact.slice(3);
  else if (compact.startsWith('0086')) compact = compact.slice(4);
  const digits = compact.replace(/\D/g, '');
  // "86 138…" without the plus: 13 digits can only be the country code plus a mobile.
  if (digits.length === 13 && /^861[3-9]/.test(digits)) return digits.slice(2);
  return digits;
}

/**
 * Mainland mobile (11 digits): first 3 and last 4 ('138****5678'). Other lengths
 * keep the first 3 and last 2; 5 digits or fewer are masked entirely because any
 * visible digit would be a large share of the number.
 */
export function maskPhone(phone: string): string {
  const digits = normalizePhone(phone);
  const n = digits.length;
  if (n === 11) return `${digits.slice(0, 3)}****${digits.slice(7)}`;
  if (n <= 5) return STAR.repeat(n);
  return `${digits.slice(0, 3)}${STAR.repeat(n - 5)}${digits.slice(-2)}`;
}

const MUNICIPALITIES = new Set(['北京市', '上海市', '天津市', '重庆市']);
// Placeholders some address datasets use as the "city" of a municipality.
const MUNICIPALITY_CITY_PLACEHOLDERS = new Set(['市辖区', '县', '市']);

export interface RecipientAddress {
  province: string;
  city: string;
  district: string;
  detail: string;
}

/**
 * Province, city and district, then '****' for the detail. The detail (street,
 * building, room) is never part of the result, whatever it contains.
 */
export function maskAddress(a: RecipientAddress): string {
  const province = a.province.trim();
  let city = a.city.trim();
  let district = a.district.trim();
  // 北京市 北京市 朝阳区 reads as 北京市朝阳区, as it is written on a parcel.
  if (city === province || (MUNICIPALITIES.has(province) && MUNICIPALITY_CITY_PLACEHOLDERS.has(city))) {
    city = '';
  }
  // Cities without districts (东莞市, 中山市) are sometimes stored with the city repeated.
  if (district !== '' && (district === city || district === province)) district = '';
  return `${province}${city}${district}****`;
}
