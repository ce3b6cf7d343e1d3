// The counter: scan or type a code, see what redeeming does (lookup), then confirm.
// Coupons: POST /v1/counter/lookup then POST /v1/counter/redeem.
// Member cards: POST /v1/counter/transactions.
// Every confirm attempt gets a fresh Idempotency-Key; a retry after a network failure reuses
// it with the same body, so the server answers the first result instead of redeeming twice.
import { get, newIdempotencyKey, post } from "../api.js";
import { field, h, mount } from "../dom.js";
import { formatDateTime, formatMoney, formatTime, t, tMaybe } from "../i18n.js";
import { session } from "../state.js";
import { heading, parseYuan } from "./common.js";

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

  const modeRadios = ["coupon", "card"].map((m) =>
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
      ),
      result,
    ),
  );

  function setState(state, ...children) {
    result.dataset.state = state;
    mount(result, children);
  }

  function idle() {
    attempt = null;
    scannedQr = null;
    setState("idle", h("p", { class: "idle-hint" }, t("counter.idle")));
  }

  function setMode(m) {
    mode = m;
    for (const r of modeRadios) r.querySelector("input").checked = r.querySelector("input").value === m;
    codeField.querySelector("label").textContent = t(m === "coupon" ? "counter.code" : "counter.card");
    codeField.querySelector(".hint").textContent = t(m === "coupon" ? "counter.code_hint" : "counter.card_hint");
    amountField.hidden = m !== "coupon";
    idle();
  }

  function focusCode() {
    codeInput.focus();
    codeInput.select();
  }

  function busy(state, text) {
    setState(state, h("p", { class: "spinner", role: "status" }, text));
  }

  async function refusal(titleText, problem, { state = "refused" } = {}) {
    const code = problem?.code;
    let detail = problem?.detail && problem.detail !== problem.title ? problem.detail : null;
    if (code === "coupon_already_redeemed") detail = (await alreadyRedeemedText(problem)) || detail;
    if (code === "not_found" || code === "coupon_not_found") detail = t("counter.not_found");
    setState(
      state,
      h("div", { class: "outcome outcome-bad", role: "alert" },
        h("span", { class: "outcome-icon", "aria-hidden": "true" }, "✕"),
        h("h2", {}, titleText),
        h("p", { class: "outcome-reason", "data-code": code || "" }, tMaybe(`problem.${code}`, problem?.title || t("common.error"))),
        detail ? h("p", { class: "outcome-detail" }, detail) : null,
      ),
      h("button", { type: "button", class: "btn btn-secondary btn-large btn-block", onclick: () => { idle(); focusCode(); } }, t("counter.next")),
    );
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
    if (data?.kind === "card" || (data?.card && !data.coupon)) return showCardForm(data.card?.card_number || body.code || body.qr);
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
    success(t("counter.success"), [
      h("p", { class: "outcome-detail" }, t("counter.success_detail", { discount: discountText })),
      data.pay_amount ? h("p", {}, `${t("counter.pay_amount")}: ${formatMoney(data.pay_amount)}`) : null,
      h("p", { class: "muted" }, [data.coupon?.code_display || data.coupon?.code, data.redeemed_at ? formatTime(data.redeemed_at, tz) : null].filter(Boolean).join(" · ")),
    ]);
  }

  function success(title, details) {
    const next = h("button", { type: "button", class: "btn btn-primary btn-large btn-block", onclick: () => { codeInput.value = ""; amountInput.value = ""; idle(); focusCode(); } }, t("counter.next"));
    setState(
      "success",
      h("div", { class: "outcome outcome-good", role: "status" },
        h("span", { class: "outcome-icon", "aria-hidden": "true" }, "✓"),
        h("h2", {}, title),
        details,
      ),
      next,
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
  // count cards (次卡) on sale at this merchant, loaded once when the clerk picks "count use"
  let countProducts = null;
  async function loadCountProducts() {
    if (countProducts) return countProducts;
    const merchantId = shop.merchant_id || session.merchant?.merchant_id;
    const programs = await get(`/v1/merchants/${encodeURIComponent(merchantId)}/programs`);
    const lists = await Promise.all((programs.items || []).map((program) =>
      get(`/v1/programs/${encodeURIComponent(program.id)}/count-products`).then((page) => page.items || [])));
    countProducts = lists.flat();
    return countProducts;
  }

  function showCardForm(cardRef) {
    attempt = null;
    let kind = "purchase";
    const amount = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", name: "amount", placeholder: "0.00" });
    const points = h("input", { type: "text", inputmode: "numeric", autocomplete: "off", name: "points", pattern: "\\d+" });
    const pin = h("input", { type: "password", inputmode: "numeric", autocomplete: "off", name: "pin", maxlength: "6", pattern: "\\d{6}" });
    const product = h("select", { name: "count_product" });
    const amountF = field(t("counter.amount"), amount);
    const pointsF = field(t("counter.points"), points);
    const pinF = field(t("counter.pin"), pin);
    const productF = field(t("counter.count_product"), product);
    const fillProducts = async () => {
      if (product.options.length) return;
      let items = [];
      try {
        items = await loadCountProducts();
      } catch {
        items = [];
      }
      if (!items.length) product.append(h("option", { value: "", disabled: true }, t("counter.no_count_products")));
      for (const p of items) product.append(h("option", { value: p.id }, `${p.name} · ${t("counter.uses", { uses: p.uses })}`));
    };
    const sync = () => {
      amountF.hidden = kind === "spend_points" || kind === "count_use";
      pointsF.hidden = kind !== "spend_points";
      pinF.hidden = kind === "purchase" || kind === "count_use";
      productF.hidden = kind !== "count_use";
      if (kind === "count_use") fillProducts();
    };
    const kinds = ["purchase", "spend_points", "spend_balance", "count_use"].map((k) =>
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
          const body = { card: cardRef, shop_id: shop.id, kind };
          if (kind === "count_use") {
            if (!product.value) return product.focus();
            body.count_product_id = product.value;
            attempt = null;
            return confirmCard(body);
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
          confirmCard(body);
        },
      },
      h("fieldset", { class: "segmented" }, h("legend", {}, t("counter.card_kind")), kinds),
      amountF,
      pointsF,
      pinF,
      productF,
      h("button", { type: "submit", class: "btn btn-confirm btn-huge btn-block" }, t("counter.card_confirm")),
    );
    sync();
    setState("lookup", h("h2", {}, t("counter.mode_card")), h("p", { class: "facts-line" }, cardRef.length > 24 ? t("counter.scanned") : cardRef), confirmForm);
    amount.focus();
  }

  async function confirmCard(body) {
    attempt ??= { path: "/v1/counter/transactions", body, key: newIdempotencyKey() };
    busy("redeeming", t("counter.redeeming"));
    let data;
    try {
      data = await post(attempt.path, attempt.body, { "Idempotency-Key": attempt.key });
    } catch (error) {
      if (!error.answered) return networkFailure(t("counter.failed"), () => confirmCard(body));
      attempt = null;
      return refusal(t("counter.failed"), error.problem, { state: "failed" });
    }
    attempt = null;
    const card = data.card || {};
    const entry = data.entry || {};
    const delta = (n) => (n > 0 ? `+${n}` : String(n));
    success(t("counter.card_success"), [
      entry.points_delta ? h("p", { class: "outcome-detail" }, t("counter.points_delta", { points: delta(entry.points_delta) })) : null,
      entry.balance_delta ? h("p", { class: "outcome-detail" }, t("counter.balance_delta", { balance: formatMoney(entry.balance_delta) })) : null,
      data.count_pass ? h("p", { class: "outcome-detail" }, t("counter.uses_left", { name: data.count_pass.name, uses: data.count_pass.uses_left })) : null,
      h("p", { class: "muted" }, t("counter.card_summary", {
        number: card.card_number || "",
        tier: card.tier?.name || "",
        points: card.points ?? "—",
        balance: formatMoney(card.balance),
      })),
    ]);
  }

  // -- dispatch ---------------------------------------------------------------------------
  function submit() {
    const typed = codeInput.value.trim();
    if (!scannedQr && !typed) return focusCode();
    if (mode === "coupon" && !scannedQr && looksLikeCardNumber(typed)) setMode("card");
    if (mode === "card") return showCardForm(scannedQr || typed.replace(/\s/g, ""));
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

  idle();
  focusCode();
  return () => closeScanner();
}
