// The counter: scan or type a code, see what redeeming does (lookup), then confirm.
// Coupons: POST /v1/counter/lookup then POST /v1/counter/redeem.
// Member cards: POST /v1/counter/transactions; a member who forgot the card is found by phone
// (POST /v1/counter/members/lookup) and the clerk confirms the card shown before charging.
// The last redemption or card transaction of this device can be reversed (managers: the API
// requires the role).
// Every confirm attempt gets a fresh Idempotency-Key; a retry after a network failure reuses
// it with the same body, so the server answers the first result instead of redeeming twice.
import { api, get, newIdempotencyKey, post } from "../api.js";
import { field, h, mount } from "../dom.js";
import { formatDateTime, formatMoney, formatTime, t, tMaybe } from "../i18n.js";
import { session } from "../state.js";
import { qrSvg } from "../qr.js";
import { errorText, heading, inLanguage, isMissingRoute, MANAGER_ROLES, parseYuan } from "./common.js";

const LAST_KEY = "corner.counter.last";
const PROVIDERS = { wechatpay: "native", alipay: "precreate" }; // the QR method of each
const POLL_MS = 2000;

const CODE_LIKE = /^[0-9A-Za-z][0-9A-Za-z -]{5,24}$/;

export function normaliseCode(text) {
  return String(text || "").replace(/[\s-]/g, "").toUpperCase();
}

function luhnValid(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function looksLikeCardNumber(text) {
  const digits = String(text || "").replace(/\s/g, "");
  return /^\d{12,19}$/.test(digits) && luhnValid(digits);
}

export function describeDiscount(discount) {
  if (!discount) return "—";
  const value = discount.amount ?? discount.value;
  switch (discount.kind) {
    case "amount_off":
      return t("discount.amount_off", { amount: formatMoney(value) });
    case "percent_off": {
      const percent = discount.percent ?? discount.value;
      const base = t("discount.percent_off", { percent });
      const off = discount.amount ? ` = −${formatMoney(discount.amount)}` : "";
      const max = discount.max_off ? t("discount.percent_off_max", { max: formatMoney(discount.max_off) }) : "";
      return base + max + off;
    }
    case "gift":
      return t("discount.gift", { gift: discount.gift_name || "" });
    default:
      return value ? formatMoney(value) : String(discount.kind || "—");
  }
}

function sameDay(a, b, timeZone) {
  const f = (d) => new Intl.DateTimeFormat("en-CA", { timeZone, dateStyle: "short" }).format(d);
  return f(a) === f(b);
}

/** "Already redeemed at 14:03 at Shop X" from the refusal's extra fields. */
async function alreadyRedeemedText(problem) {
  const extra = { ...(problem.extra || {}), ...problem };
  const at = extra.redeemed_at || extra.at || extra.when;
  let shop = extra.shop_name || extra.shop?.name || extra.where;
  const shopId = extra.shop_id || extra.shop?.id;
  if (!shop && shopId) {
    if (shopId === session.shop?.id) shop = session.shop.name;
    else shop = await get(`/v1/shops/${shopId}`).then((s) => s.name).catch(() => null);
  }
  if (!at) return null;
  const tz = session.shop?.timezone || undefined;
  const when = sameDay(new Date(at), new Date(), tz) ? formatTime(at, tz) : formatDateTime(at, tz);
  return shop ? t("counter.already_at", { time: when, shop }) : t("counter.already_time", { time: when });
}

export function renderCounter(main) {
  const shop = session.shop;
  let mode = "coupon";
  let stopScanner = null;
  let attempt = null; // {path, body, key} of the confirm in flight or to retry
  let scannedQr = null;
  let stopPolling = () => {}; // the payment being waited for, if any

  // -- input panel ------------------------------------------------------------------------
  const codeInput = h("input", {
    type: "text",
    name: "code",
    class: "code-input",
    autocomplete: "off",
    autocapitalize: "characters",
    autocorrect: "off",
    spellcheck: "false",
    enterkeyhint: "search",
    maxlength: "512",
  });
  const codeField = field(t("counter.code"), codeInput, t("counter.code_hint"));
  const amountInput = h("input", {
    type: "text",
    name: "order_amount",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: "0.00",
  });
  const amountField = field(t("counter.order_amount"), amountInput);
  const lookupButton = h("button", { type: "submit", class: "btn btn-primary btn-large" }, t("counter.lookup"));
  const scanButton = h(
    "button",
    { type: "button", class: "btn btn-secondary btn-large", "aria-pressed": "false", onclick: () => toggleScanner() },
    t("counter.scan"),
  );
  const video = h("video", { class: "scanner-video", muted: true, playsinline: true, "aria-hidden": "true" });
  const scannerBox = h(
    "div",
    { class: "scanner", hidden: true },
    video,
    h("div", { class: "scanner-frame", "aria-hidden": "true" }),
    h("p", { class: "hint", role: "status" }, t("counter.scan_hint")),
  );

  const modeRadios = ["coupon", "card", "phone"].map((m) =>
    h(
      "label",
      { class: "segment" },
      h("input", {
        type: "radio",
        name: "mode",
        value: m,
        checked: m === mode,
        onchange: () => setMode(m),
      }),
      h("span", {}, t(`counter.mode_${m}`)),
    ),
  );

  const form = h(
    "form",
    {
      class: "counter-form",
      onsubmit: (event) => {
        event.preventDefault();
        scannedQr = null;
        submit();
      },
    },
    h("fieldset", { class: "segmented" }, h("legend", {}, t("counter.mode")), modeRadios),
    codeField,
    amountField,
    h("div", { class: "button-row" }, lookupButton, scanButton),
    scannerBox,
  );

  // -- result panel -----------------------------------------------------------------------
  const lastBar = h("div", { class: "last-bar" }); // the last redemption/transaction, to reverse
  const result = h("section", {
    class: "result",
    id: "counter-result",
    "aria-live": "assertive",
    "aria-atomic": "true",
    "data-state": "idle",
  });

  mount(
    main,
    h(
      "div",
      { class: "counter" },
      h(
        "section",
        { class: "card counter-input" },
        heading(t("counter.title")),
        h("p", { class: "shop-name" }, t("counter.shop", { name: shop.name })),
        form,
        lastBar,
      ),
      result,
    ),
  );

  function setState(state, ...children) {
    result.dataset.state = state;
    mount(result, children);
  }

  function idle() {
    stopPolling();
    attempt = null;
    scannedQr = null;
    setState("idle", h("p", { class: "idle-hint" }, t("counter.idle")));
  }

  function setMode(m) {
    mode = m;
    for (const r of modeRadios) r.querySelector("input").checked = r.querySelector("input").value === m;
    const labels = { coupon: ["counter.code", "counter.code_hint"], card: ["counter.card", "counter.card_hint"], phone: ["counter.phone", "counter.phone_hint"] };
    codeField.querySelector("label").textContent = t(labels[m][0]);
    codeField.querySelector(".hint").textContent = t(labels[m][1]);
    codeInput.inputMode = m === "coupon" ? "text" : "numeric";
    codeInput.classList.toggle("phone-input", m === "phone");
    amountField.hidden = m !== "coupon";
    scanButton.hidden = m === "phone";
    idle();
  }

  function focusCode() {
    codeInput.focus();
    codeInput.select();
  }

  function busy(state, text) {
    setState(state, h("p", { class: "spinner", role: "status" }, text));
  }

  /** The one line a refusal shows, in the page's language, money in yuan. `card` (when the
   * member was looked up) lets "not enough balance" say how much there is. */
  async function refusalLine(problem, card) {
    const code = problem?.code;
    const extra = { ...(problem?.extra || {}), ...(problem || {}) };
    if (code === "coupon_already_redeemed") {
      const where = await alreadyRedeemedText(problem);
      return where ? `${t("problem.coupon_already_redeemed")}${t("common.colon")}${where}` : t("problem.coupon_already_redeemed");
    }
    if (code === "not_found" || code === "coupon_not_found") return t("counter.not_found");
    if (code === "min_spend_not_met" && extra.min_spend) return t("counter.min_spend_not_met", { min: formatMoney(extra.min_spend) });
    if (code === "insufficient_balance" && card) return t("counter.insufficient_balance", { balance: formatMoney(card.balance) });
    if (code === "insufficient_points" && card) return t("counter.insufficient_points", { points: card.points });
    const own = tMaybe(`problem.${code}`, null);
    if (own) return own;
    return [problem?.title, problem?.detail].find(inLanguage) || t("common.error");
  }

  async function refusal(titleText, problem, { state = "refused", card = null } = {}) {
    const code = problem?.code;
    if (code === "order_amount_required") return askOrderAmount(problem);
    const line = await refusalLine(problem, card);
    setState(
      state,
      h("div", { class: "outcome outcome-bad", role: "alert" },
        h("span", { class: "outcome-icon", "aria-hidden": "true" }, "✕"),
        h("h2", {}, titleText),
        h("p", { class: "outcome-reason", "data-code": code || "" }, line),
      ),
      h("button", { type: "button", class: "btn btn-secondary btn-large btn-block", onclick: () => { idle(); focusCode(); } }, t("counter.next")),
    );
  }

  /** The coupon has a minimum spend: ask for the bill here, then look it up again. */
  function askOrderAmount(problem) {
    const hint = inLanguage(problem?.detail) ? problem.detail : t("problem.order_amount_required");
    const input = h("input", { type: "text", name: "ask_order_amount", inputmode: "decimal", autocomplete: "off", placeholder: "0.00" });
    setState(
      "amount",
      h("h2", {}, t("counter.amount_needed")),
      h("p", { class: "outcome-reason" }, hint),
      h("form", {
        class: "stack",
        onsubmit: (event) => {
          event.preventDefault();
          const value = parseYuan(input.value);
          if (value === null || Number.isNaN(value)) {
            input.setAttribute("aria-invalid", "true");
            return input.focus();
          }
          amountInput.value = input.value.trim();
          lookupCoupon();
        },
      },
      field(t("counter.order_amount_short"), input),
      h("button", { type: "submit", class: "btn btn-primary btn-large btn-block" }, t("counter.lookup"))),
      h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => { idle(); focusCode(); } }, t("common.cancel")),
    );
    input.focus();
  }

  // -- reversing the last redemption or card transaction -----------------------------------
  const canReverse = MANAGER_ROLES.includes(session.merchant?.role);
  function remember(kind, id, label) {
    const last = { kind, id, label, shop: shop.id, at: Date.now() };
    sessionStorage.setItem(LAST_KEY, JSON.stringify(last));
    renderLastBar();
    return last;
  }
  function lastOperation() {
    try {
      const last = JSON.parse(sessionStorage.getItem(LAST_KEY));
      return last && last.shop === shop.id ? last : null;
    } catch {
      return null;
    }
  }
  function renderLastBar() {
    const last = lastOperation();
    if (!last) return mount(lastBar);
    mount(
      lastBar,
      h("span", { class: "muted" }, t("counter.last", { label: last.label })),
      canReverse
        ? h("button", { type: "button", class: "btn btn-ghost", id: "reverse-last", onclick: () => askReverse(last) }, t("counter.reverse_last"))
        : h("span", { class: "hint" }, t("counter.reverse_needs_manager")),
    );
  }
  function reverseButton(last) {
    return canReverse
      ? h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => askReverse(last) }, t("counter.reverse_this"))
      : h("p", { class: "hint" }, t("counter.reverse_needs_manager"));
  }
  function askReverse(last) {
    const reason = h("input", { type: "text", name: "reason", maxlength: "255", autocomplete: "off" });
    const confirm = h("button", { type: "submit", class: "btn btn-confirm btn-large btn-block", id: "confirm-reverse" }, t("counter.reverse_confirm"));
    setState(
      "reverse",
      h("h2", {}, t("counter.reverse_title")),
      h("p", { class: "outcome-detail" }, last.label),
      h("form", {
        class: "stack",
        onsubmit: async (event) => {
          event.preventDefault();
          confirm.disabled = true;
          const note = reason.value.trim() || null;
          try {
            if (last.kind === "redemption") await post(`/v1/redemptions/${encodeURIComponent(last.id)}/reverse`, { reason: note });
            else await post(`/v1/counter/transactions/${encodeURIComponent(last.id)}/reverse`, { note });
          } catch (error) {
            if (!error.answered) return refusal(t("counter.reverse_failed"), { code: "network_error", title: t("common.network_error") }, { state: "failed" });
            return refusal(t("counter.reverse_failed"), error.problem, { state: "failed" });
          }
          sessionStorage.removeItem(LAST_KEY);
          renderLastBar();
          success(t("counter.reversed"), [h("p", { class: "outcome-detail" }, last.label)]);
        },
      },
      field(t("counter.reverse_reason"), reason),
      confirm),
      h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => { idle(); focusCode(); } }, t("common.cancel")),
    );
    confirm.focus();
  }

  // -- coupons ----------------------------------------------------------------------------
  function couponBody() {
    const body = { shop_id: shop.id };
    if (scannedQr) {
      const text = scannedQr.trim();
      // a paper coupon's QR may carry just the printed code; a wallet QR carries a signed payload
      if (CODE_LIKE.test(text) && !text.includes(".")) body.code = normaliseCode(text);
      else body.qr = text;
    } else {
      body.code = normaliseCode(codeInput.value);
    }
    const amount = parseYuan(amountInput.value);
    if (Number.isNaN(amount)) {
      amountInput.setAttribute("aria-invalid", "true");
      amountInput.focus();
      return null;
    }
    amountInput.removeAttribute("aria-invalid");
    if (amount !== null) body.order_amount = { amount, currency: "CNY" };
    return body;
  }

  async function lookupCoupon() {
    const body = couponBody();
    if (!body || (!body.code && !body.qr)) return;
    attempt = null;
    busy("checking", t("counter.checking"));
    let data;
    try {
      data = await post("/v1/counter/lookup", body);
    } catch (error) {
      if (error.status === 0) return networkFailure(t("counter.failed"), () => lookupCoupon());
      return refusal(t("counter.refused"), error.problem);
    }
    if (data && data.redeemable === false) {
      const r = data.refusal || {};
      return refusal(t("counter.refused"), { ...r.extra, ...r, extra: r.extra });
    }
    // the lookup may recognise other things a customer shows at the counter
    if (data?.kind === "card" || (data?.card && !data.coupon)) return lookupCard(data.card?.card_number || body.code || body.qr);
    if (data?.kind === "order" || (data?.order && !data.coupon)) return showOrder(data.order || data);
    showLookup(body, data);
  }

  function showLookup(body, data) {
    const coupon = data.coupon || {};
    const campaign = coupon.campaign || {};
    const tz = shop.timezone || undefined;
    const rows = [
      [t("counter.campaign"), campaign.name || data.campaign?.name],
      [t("counter.coupon_code"), coupon.code_display || coupon.code],
      [t("counter.discount"), describeDiscount(data.discount || campaign.discount)],
      [t("counter.valid_until"), coupon.valid_until ? formatDateTime(coupon.valid_until, tz) : null],
      [t("counter.pay_amount"), data.pay_amount ? formatMoney(data.pay_amount) : null],
    ].filter(([, v]) => v);
    const confirm = h(
      "button",
      { type: "button", class: "btn btn-confirm btn-huge btn-block", id: "confirm-redeem", onclick: () => confirmRedeem(body) },
      t("counter.confirm"),
    );
    setState(
      "lookup",
      h("h2", {}, t("counter.lookup_title")),
      h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      confirm,
      h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => { idle(); focusCode(); } }, t("common.cancel")),
    );
    confirm.focus();
  }

  async function confirmRedeem(body) {
    // a new attempt gets a new key; retrying the same attempt (network failure) keeps it
    attempt ??= { path: "/v1/counter/redeem", body, key: newIdempotencyKey() };
    busy("redeeming", t("counter.redeeming"));
    let data;
    try {
      data = await post(attempt.path, attempt.body, { "Idempotency-Key": attempt.key });
    } catch (error) {
      if (!error.answered) return networkFailure(t("counter.failed"), () => confirmRedeem(body));
      attempt = null;
      return refusal(t("counter.failed"), error.problem, { state: "failed" });
    }
    attempt = null;
    const tz = shop.timezone || undefined;
    const discountText = data.discount?.amount ? formatMoney(data.discount.amount) : describeDiscount(data.discount);
    const code = data.coupon?.code_display || data.coupon?.code || "";
    const last = data.redemption_id ? remember("redemption", data.redemption_id, t("counter.last_redemption", { code, discount: discountText })) : null;
    success(t("counter.success"), [
      h("p", { class: "outcome-detail" }, t("counter.success_detail", { discount: discountText })),
      data.pay_amount ? h("p", {}, `${t("counter.pay_amount")}: ${formatMoney(data.pay_amount)}`) : null,
      h("p", { class: "muted" }, [data.coupon?.code_display || data.coupon?.code, data.redeemed_at ? formatTime(data.redeemed_at, tz) : null].filter(Boolean).join(" · ")),
    ], { last });
  }

  function success(title, details, { last = null } = {}) {
    const next = h("button", { type: "button", class: "btn btn-primary btn-large btn-block", onclick: () => { codeInput.value = ""; amountInput.value = ""; idle(); focusCode(); } }, t("counter.next"));
    setState(
      "success",
      h("div", { class: "outcome outcome-good", role: "status" },
        h("span", { class: "outcome-icon", "aria-hidden": "true" }, "✓"),
        h("h2", {}, title),
        details,
      ),
      next,
      last ? reverseButton(last) : null,
    );
    next.focus();
  }

  function networkFailure(title, retry) {
    const button = h("button", { type: "button", class: "btn btn-confirm btn-huge btn-block", onclick: retry }, t("common.retry"));
    setState(
      "uncertain",
      h("div", { class: "outcome outcome-warn", role: "alert" },
        h("span", { class: "outcome-icon", "aria-hidden": "true" }, "!"),
        h("h2", {}, title),
        h("p", { class: "outcome-detail" }, attempt ? t("counter.uncertain") : t("common.network_error")),
      ),
      button,
      h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => { idle(); focusCode(); } }, t("common.cancel")),
    );
    button.focus();
  }

  // -- orders bought online, consumed at the counter ----------------------------------------
  function showOrder(order) {
    const rows = [
      [t("counter.order"), order.offering?.name || order.name || order.id],
      [t("counter.order_amount_paid"), order.amount || order.total ? formatMoney(order.amount || order.total) : null],
      [t("counter.order_status"), order.status],
    ].filter(([, v]) => v);
    const confirm = h(
      "button",
      { type: "button", class: "btn btn-confirm btn-huge btn-block", onclick: () => confirmOrder(order.id) },
      t("counter.order_confirm"),
    );
    setState("lookup", h("h2", {}, t("counter.order")), h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])), confirm);
    confirm.focus();
  }

  async function confirmOrder(orderId) {
    attempt ??= { path: `/v1/counter/orders/${encodeURIComponent(orderId)}/consume`, body: { shop_id: shop.id }, key: newIdempotencyKey() };
    busy("redeeming", t("counter.redeeming"));
    try {
      await post(attempt.path, attempt.body, { "Idempotency-Key": attempt.key });
    } catch (error) {
      if (!error.answered) return networkFailure(t("counter.failed"), () => confirmOrder(orderId));
      attempt = null;
      return refusal(t("counter.failed"), error.problem, { state: "failed" });
    }
    attempt = null;
    success(t("counter.order_success"), []);
  }

  // -- member cards -----------------------------------------------------------------------
  // count cards (次卡) on sale at this merchant, for a card typed or scanned (its passes are
  // not known before charging); a member found by phone shows their own passes instead
  let countProducts = null;
  async function loadCountProducts() {
    if (countProducts) return countProducts;
    const merchantId = shop.merchant_id || session.merchant?.merchant_id;
    const programs = await get(`/v1/merchants/${encodeURIComponent(merchantId)}/programs`);
    const lists = await Promise.all((programs.items || []).map((program) =>
      get(`/v1/programs/${encodeURIComponent(program.id)}/count-products`).then((page) => page.items || [])));
    countProducts = lists.flat().filter((p) => p.active !== false && (!p.shop_ids || p.shop_ids.includes(shop.id)));
    return countProducts;
  }

  const usablePasses = (card) => (card?.count_passes || []).filter((p) => p.status === "active" && p.uses_left > 0 && (!p.shop_ids || p.shop_ids.includes(shop.id)));

  /** What the clerk reads to the member before charging: name, tier name, points, balance, passes. */
  function memberFacts(item) {
    const card = item.card;
    const passes = card.count_passes || [];
    const rows = [
      [t("counter.member_name"), item.name || t("counter.member_unnamed")],
      [t("counter.card"), card.card_number],
      [t("counter.tier"), card.tier?.name || "—"],
      [t("counter.points"), String(card.points ?? 0)],
      [t("counter.balance"), formatMoney(card.balance)],
      [t("counter.count_passes"), passes.length ? passes.map((p) => t("counter.uses_left", { name: p.name, uses: p.uses_left })).join("；") : t("counter.no_passes")],
    ];
    return h("dl", { class: "facts member-facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  async function lookupPhone() {
    const phone = codeInput.value.replace(/[\s-]/g, "");
    if (!/^\+?\d{6,15}$/.test(phone)) {
      codeInput.setAttribute("aria-invalid", "true");
      return refusal(t("counter.member_refused"), { code: "phone_invalid", title: t("counter.phone_invalid") });
    }
    codeInput.removeAttribute("aria-invalid");
    busy("checking", t("counter.checking"));
    let data;
    try {
      data = await post("/v1/counter/members/lookup", { phone, shop_id: shop.id });
    } catch (error) {
      if (error.status === 0) return networkFailure(t("counter.member_refused"), () => lookupPhone());
      return refusal(t("counter.member_refused"), error.problem);
    }
    const items = data.items || [];
    if (!items.length) return refusal(t("counter.member_refused"), { code: "member_not_found", title: t("counter.member_not_found", { phone: data.phone || phone }) });
    confirmMembers(t("counter.members_found", { phone: data.phone || phone, count: items.length }), items);
  }

  // a typed or scanned card is shown before charging (POST /v1/counter/cards/lookup): the
  // clerk checks name and tier with the customer; a scanned QR stays usable for the charge
  async function lookupCard(cardRef) {
    busy("checking", t("counter.checking"));
    let item;
    try {
      item = await post("/v1/counter/cards/lookup", { card: cardRef, shop_id: shop.id });
    } catch (error) {
      if (error.status === 0) return networkFailure(t("counter.member_refused"), () => lookupCard(cardRef));
      return refusal(t("counter.member_refused"), error.problem);
    }
    confirmMembers(t("counter.card_found", { number: item.card.card_number }), [item], cardRef);
  }

  // the members found (by phone, or the one card typed or scanned), each confirmed by the clerk
  function confirmMembers(title, items, cardRef = null) {
    setState(
      "members",
      h("h2", {}, title),
      h("p", { class: "hint" }, t("counter.member_confirm_hint")),
      h("ul", { class: "member-list" }, items.map((item) =>
        h("li", { class: "member" },
          memberFacts(item),
          h("button", { type: "button", class: "btn btn-confirm btn-large btn-block", onclick: () => showCardForm(cardRef || item.card.card_number, item) },
            t("counter.member_confirm", { name: item.name || item.card.card_number }))))),
      h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => { idle(); focusCode(); } }, t("common.cancel")),
    );
    result.querySelector(".member button")?.focus();
  }

  function showCardForm(cardRef, member = null) {
    attempt = null;
    let kind = "purchase";
    const card = member?.card || null;
    const amount = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", name: "amount", placeholder: "0.00" });
    const points = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", name: "points", pattern: "\\d+" });
    const pin = h("input", { type: "password", inputmode: "numeric", autocomplete: "off", name: "pin", maxlength: "6", pattern: "\\d{6}" });
    const product = h("select", { name: "count_product" });
    const noProducts = h("p", { class: "outcome-reason no-count", role: "status", hidden: true });
    const amountF = field(t("counter.amount"), amount);
    const pointsF = field(t("counter.points"), points);
    const pinF = field(t("counter.pin"), pin, card && !card.has_pin ? t("counter.pin_not_set_here") : null);
    const productF = field(card ? t("counter.count_pass") : t("counter.count_product"), product);
    const submit = h("button", { type: "submit", class: "btn btn-confirm btn-huge btn-block" }, t("counter.card_confirm"));
    // selling a top-up or a count card: the customer pays by scanning a QR
    const providerRadios = Object.keys(PROVIDERS).map((name, i) =>
      h("label", { class: "segment" },
        h("input", { type: "radio", name: "provider", value: name, checked: i === 0 }),
        h("span", {}, t(`provider.${name}`))));
    const providerF = h("fieldset", { class: "segmented" }, h("legend", {}, t("counter.pay_with")), providerRadios);
    const saleProduct = h("select", { name: "sale_product" });
    const saleProductF = field(t("counter.sale_product"), saleProduct);
    let saleChoices = null;
    const fillSaleProducts = async () => {
      if (saleChoices) return;
      try {
        saleChoices = await loadCountProducts();
      } catch {
        saleChoices = [];
      }
      for (const p of saleChoices) saleProduct.append(h("option", { value: p.id }, `${p.name} · ${t("counter.uses", { uses: p.uses })} · ${formatMoney(p.price)}`));
      sync();
    };
    let choices = null; // [{value, label}] for count use, null until loaded
    const fillProducts = async () => {
      if (choices) return;
      if (card) {
        choices = usablePasses(card).map((p) => ({ value: `pass:${p.id}`, label: `${p.name} · ${t("counter.uses_left_short", { uses: p.uses_left })}` }));
      } else {
        let items = [];
        try {
          items = await loadCountProducts();
        } catch {
          items = [];
        }
        choices = items.map((p) => ({ value: `product:${p.id}`, label: `${p.name} · ${t("counter.uses", { uses: p.uses })}` }));
      }
      for (const c of choices) product.append(h("option", { value: c.value }, c.label));
      sync();
    };
    const sync = () => {
      const selling = kind === "topup" || kind === "buy_count";
      providerF.hidden = !selling;
      saleProductF.hidden = kind !== "buy_count" || (saleChoices !== null && !saleChoices.length);
      amountF.hidden = kind === "spend_points" || kind === "count_use" || kind === "buy_count";
      amountF.querySelector("label").textContent = t(kind === "topup" ? "counter.topup_amount" : "counter.amount");
      submit.textContent = t(selling ? "counter.sell_confirm" : "counter.card_confirm");
      pointsF.hidden = kind !== "spend_points";
      pinF.hidden = kind === "purchase" || kind === "count_use";
      const countUse = kind === "count_use";
      const none = countUse && choices !== null && choices.length === 0;
      productF.hidden = !countUse || none;
      noProducts.hidden = !none;
      noProducts.textContent = card ? t("counter.no_usable_passes") : t("counter.no_count_products");
      submit.disabled = countUse && (choices === null || none);
      if (countUse) fillProducts();
      if (kind === "buy_count") {
        const nothing = saleChoices !== null && !saleChoices.length;
        noProducts.hidden = !nothing;
        if (nothing) noProducts.textContent = t("counter.no_count_products_to_sell");
        submit.disabled = saleChoices === null || nothing;
        fillSaleProducts();
      }
    };
    const kinds = ["purchase", "spend_points", "spend_balance", "count_use", "topup", "buy_count"].map((k) =>
      h("label", { class: "segment" },
        h("input", { type: "radio", name: "card-kind", value: k, checked: k === kind, onchange: () => { kind = k; sync(); } }),
        h("span", {}, t(`counter.kind_${k}`))),
    );
    const confirmForm = h(
      "form",
      {
        class: "stack",
        onsubmit: (event) => {
          event.preventDefault();
          if (kind === "topup" || kind === "buy_count") {
            const provider = providerF.querySelector("input:checked").value;
            const payment = { provider, method: PROVIDERS[provider] };
            if (kind === "buy_count") {
              if (!saleProduct.value) return saleProduct.focus();
              return sell("/v1/counter/count-passes", { card: cardRef, shop_id: shop.id, product_id: saleProduct.value, payment });
            }
            const value = parseYuan(amount.value);
            if (value === null || Number.isNaN(value) || value <= 0) return amount.focus();
            return sell("/v1/counter/topups", { card: cardRef, shop_id: shop.id, amount: { amount: value, currency: "CNY" }, payment });
          }
          const body = { card: cardRef, shop_id: shop.id, kind };
          if (kind === "count_use") {
            if (!product.value) return product.focus();
            const [what, id] = product.value.split(":");
            if (what === "pass") body.pass_id = id;
            else body.count_product_id = id;
            attempt = null;
            return confirmCard(body, card);
          }
          if (kind === "spend_points") {
            if (!/^\d+$/.test(points.value.trim())) return points.focus();
            body.points = Number(points.value.trim());
          } else {
            const value = parseYuan(amount.value);
            if (value === null || Number.isNaN(value)) return amount.focus();
            body.amount = { amount: value, currency: "CNY" };
          }
          if (kind !== "purchase") {
            if (!/^\d{6}$/.test(pin.value)) return pin.focus();
            body.pin = pin.value;
          }
          attempt = null;
          confirmCard(body, card);
        },
      },
      h("fieldset", { class: "segmented" }, h("legend", {}, t("counter.card_kind")), kinds),
      amountF,
      pointsF,
      pinF,
      productF,
      saleProductF,
      providerF,
      noProducts,
      submit,
    );
    sync();
    setState(
      "lookup",
      h("h2", {}, t("counter.mode_card")),
      member ? memberFacts(member) : h("p", { class: "facts-line" }, cardRef.length > 24 ? t("counter.scanned") : cardRef),
      card ? h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => pinPanel(cardRef, member) }, t(card.has_pin ? "counter.pin_reset" : "counter.pin_set")) : null,
      confirmForm,
      h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => { idle(); focusCode(); } }, t("common.cancel")),
    );
    amount.focus();
  }

  /** The member sets or resets the payment PIN on this tablet with an SMS code sent to their
   * own phone (POST …/pin-code, then PUT …/pin with the code and the new PIN). */
  function pinPanel(cardRef, member) {
    const card = member.card;
    const code = h("input", { type: "text", name: "sms_code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" });
    const pin = h("input", { type: "password", name: "new_pin", inputmode: "numeric", autocomplete: "off", maxlength: "6" });
    const again = h("input", { type: "password", name: "new_pin_again", inputmode: "numeric", autocomplete: "off", maxlength: "6" });
    const status = h("p", { class: "outcome-reason", role: "status" });
    const send = h("button", {
      type: "button",
      class: "btn btn-secondary btn-block",
      onclick: async () => {
        send.disabled = true;
        try {
          const sent = await post(`/v1/counter/cards/${encodeURIComponent(card.id)}/pin-code`);
          status.textContent = t("counter.pin_code_sent", { phone: sent.phone });
          code.focus();
        } catch (error) {
          status.setAttribute("role", "alert");
          status.textContent = errorText(error);
        } finally {
          send.disabled = false;
        }
      },
    }, t("counter.pin_send_code"));
    setState(
      "pin",
      h("h2", {}, t(card.has_pin ? "counter.pin_reset" : "counter.pin_set")),
      memberFacts(member),
      h("p", { class: "hint" }, t("counter.pin_hint")),
      send,
      h("form", {
        class: "stack",
        onsubmit: async (event) => {
          event.preventDefault();
          if (!/^\d{4,6}$/.test(code.value.trim())) return code.focus();
          if (!/^\d{6}$/.test(pin.value)) return pin.focus();
          if (pin.value !== again.value) {
            status.setAttribute("role", "alert");
            status.textContent = t("counter.pin_mismatch");
            return again.focus();
          }
          try {
            const saved = await api("PUT", `/v1/counter/cards/${encodeURIComponent(card.id)}/pin`, { json: { code: code.value.trim(), pin: pin.value } });
            showCardForm(cardRef, { ...member, card: { ...card, ...saved } });
            mount(result.querySelector("h2"), t("counter.pin_saved"));
          } catch (error) {
            status.setAttribute("role", "alert");
            status.textContent = errorText(error);
          }
        },
      },
      field(t("counter.pin_code"), code),
      field(t("counter.pin_new"), pin),
      field(t("counter.pin_again"), again),
      h("button", { type: "submit", class: "btn btn-confirm btn-large btn-block" }, t("counter.pin_save"))),
      status,
      h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => showCardForm(cardRef, member) }, t("common.cancel")),
    );
    send.focus();
  }

  // -- selling a top-up or a count card: the QR, then "paid" when the callback arrived ---------
  async function sell(path, body) {
    attempt ??= { path, body, key: newIdempotencyKey() };
    busy("redeeming", t("counter.creating_payment"));
    let data;
    try {
      data = await post(attempt.path, attempt.body, { "Idempotency-Key": attempt.key });
    } catch (error) {
      if (!error.answered) return networkFailure(t("counter.sell_failed"), () => sell(path, body));
      attempt = null;
      if (isMissingRoute(error)) return refusal(t("counter.sell_failed"), { code: "sell_unavailable", title: t("counter.sell_unavailable") }, { state: "failed" });
      return refusal(t("counter.sell_failed"), error.problem, { state: "failed" });
    }
    attempt = null;
    showPayment(data, body);
  }

  function showPayment(sale, body) {
    const payment = sale.payment || {};
    const text = payment.code_url || payment.pay_url;
    const amount = sale.amount || sale.price;
    const what = sale.name ? `${t("counter.sale_count", { name: sale.name })} · ${formatMoney(amount)}` : t("counter.sale_topup", { amount: formatMoney(amount) });
    const status = h("p", { class: "pay-status", role: "status" }, t("counter.waiting_payment"));
    setState(
      "paying",
      h("h2", {}, t("counter.scan_to_pay", { provider: t(`provider.${payment.provider || body.payment.provider}`) })),
      h("p", { class: "outcome-detail" }, what),
      text ? h("div", { class: "qr-box" }, qrSvg(text, t("counter.qr_label", { amount: formatMoney(amount) }))) : h("p", {}, t("counter.no_qr")),
      status,
      h("button", { type: "button", class: "btn btn-ghost btn-block", onclick: () => { idle(); focusCode(); } }, t("counter.stop_waiting")),
    );
    let stopped = false;
    let timer = null;
    stopPolling = () => {
      stopped = true;
      clearTimeout(timer);
    };
    const poll = async () => {
      if (stopped) return;
      let view;
      try {
        view = await get(`/v1/payments/${encodeURIComponent(payment.reference)}`);
      } catch (error) {
        if (error.answered && error.status !== 429) {
          status.textContent = `${t("counter.payment_unknown")} ${tMaybe(`problem.${error.code}`, "")}`.trim();
          return;
        }
        view = null; // a dropped connection: ask again
      }
      if (stopped) return;
      if (view?.status === "succeeded") {
        stopPolling();
        return success(t("counter.paid"), [
          h("p", { class: "outcome-detail" }, what),
          sale.bonus?.amount ? h("p", {}, t("counter.topup_bonus", { bonus: formatMoney(sale.bonus) })) : null,
        ]);
      }
      if (view && view.status !== "pending") {
        stopPolling();
        return refusal(t("counter.payment_failed"), { code: `payment_${view.status}`, title: t(`counter.payment_${view.status === "closed" ? "closed" : "failed"}_line`) }, { state: "failed" });
      }
      timer = setTimeout(poll, POLL_MS);
    };
    timer = setTimeout(poll, POLL_MS);
  }

  async function confirmCard(body, card = null) {
    attempt ??= { path: "/v1/counter/transactions", body, key: newIdempotencyKey() };
    busy("redeeming", t("counter.redeeming"));
    let data;
    try {
      data = await post(attempt.path, attempt.body, { "Idempotency-Key": attempt.key });
    } catch (error) {
      if (!error.answered) return networkFailure(t("counter.failed"), () => confirmCard(body, card));
      attempt = null;
      return refusal(t("counter.failed"), error.problem, { state: "failed", card });
    }
    attempt = null;
    const after = data.card || {};
    const entry = data.entry || {};
    const delta = (n) => (n > 0 ? `+${n}` : String(n));
    const label = t("counter.last_transaction", {
      kind: t(`counter.kind_${body.kind}`),
      number: after.card_number || body.card,
      amount: entry.amount ? formatMoney(entry.amount) : body.points ? `${body.points}` : data.count_pass?.name || "",
    });
    const last = entry.id ? remember("transaction", entry.id, label) : null;
    success(t("counter.card_success"), [
      entry.points_delta ? h("p", { class: "outcome-detail" }, t("counter.points_delta", { points: delta(entry.points_delta) })) : null,
      entry.balance_delta ? h("p", { class: "outcome-detail" }, t("counter.balance_delta", { balance: formatMoney(entry.balance_delta) })) : null,
      data.count_pass ? h("p", { class: "outcome-detail" }, t("counter.uses_left", { name: data.count_pass.name, uses: data.count_pass.uses_left })) : null,
      h("p", { class: "muted" }, t("counter.card_summary", {
        number: after.card_number || "",
        tier: after.tier?.name || "",
        points: after.points ?? "—",
        balance: formatMoney(after.balance),
      })),
    ], { last });
  }

  // -- dispatch ---------------------------------------------------------------------------
  function submit() {
    const typed = codeInput.value.trim();
    if (!scannedQr && !typed) return focusCode();
    if (mode === "phone") return lookupPhone();
    if (mode === "coupon" && !scannedQr && looksLikeCardNumber(typed)) setMode("card");
    if (mode === "card") return lookupCard(scannedQr || typed.replace(/\s/g, ""));
    return lookupCoupon();
  }

  async function toggleScanner() {
    if (stopScanner) return closeScanner();
    scannerBox.hidden = false;
    scanButton.setAttribute("aria-pressed", "true");
    scanButton.textContent = t("counter.scan_stop");
    try {
      const { startScanner } = await import("../scanner.js");
      stopScanner = await startScanner(video, (text) => {
        stopScanner = null;
        closeScanner();
        scannedQr = text;
        codeInput.value = "";
        codeInput.placeholder = t("counter.scanned");
        submit();
      });
    } catch (error) {
      closeScanner();
      const reason = error.name === "InsecureContext" ? t("counter.camera_insecure") : error.message || error.name;
      setState("failed", h("div", { class: "outcome outcome-bad", role: "alert" },
        h("h2", {}, t("counter.camera_error", { reason: "" }).replace(/[:：]\s*$/, "")),
        h("p", { class: "outcome-detail" }, reason)));
    }
  }

  function closeScanner() {
    if (stopScanner) stopScanner();
    stopScanner = null;
    scannerBox.hidden = true;
    scanButton.setAttribute("aria-pressed", "false");
    scanButton.textContent = t("counter.scan");
  }

  codeInput.addEventListener("input", () => {
    scannedQr = null;
    codeInput.placeholder = "";
  });

  renderLastBar();
  idle();
  focusCode();
  return () => {
    closeScanner();
    stopPolling();
  };
}
