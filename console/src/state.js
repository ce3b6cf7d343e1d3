// What the console remembers between page loads: tokens, chosen merchant and shop.
const KEY = "corner.session";

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || {};
  } catch {
    return {};
  }
}

class Session {
  constructor() {
    this.data = load();
    this.listeners = new Set();
  }

  save() {
    localStorage.setItem(KEY, JSON.stringify(this.data));
  }

  get accessToken() {
    return this.data.access_token;
  }

  get refreshToken() {
    return this.data.refresh_token;
  }

  get signedIn() {
    return Boolean(this.data.access_token);
  }

  setTokens(pair) {
    this.data.access_token = pair.access_token;
    this.data.refresh_token = pair.refresh_token;
    this.save();
  }

  /** The chosen merchant: {merchant_id, name, role}. */
  get merchant() {
    return this.data.merchant || null;
  }

  setMerchant(merchant) {
    if (this.data.merchant?.merchant_id !== merchant?.merchant_id) this.data.shop = null;
    this.data.merchant = merchant;
    this.save();
  }

  /** The chosen shop: {id, name, timezone}. */
  get shop() {
    return this.data.shop || null;
  }

  setShop(shop) {
    this.data.shop = shop;
    const recent = (this.data.recentShops ||= {});
    const list = (recent[shop.merchant_id] ||= []).filter((s) => s.id !== shop.id);
    list.unshift({ id: shop.id, name: shop.name, merchant_id: shop.merchant_id, timezone: shop.timezone });
    recent[shop.merchant_id] = list.slice(0, 8);
    this.save();
  }

  recentShops(merchantId) {
    return this.data.recentShops?.[merchantId] || [];
  }

  signOut() {
    const recentShops = this.data.recentShops;
    this.data = { recentShops };
    this.save();
    for (const fn of this.listeners) fn();
  }

  onSignOut(fn) {
    this.listeners.add(fn);
  }
}

export const session = new Session();
