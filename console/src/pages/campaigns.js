// Campaigns: the list, a new campaign, editing it (drafts: any field; published or paused: name,
// description, quantity and end date), publish, pause, resume, end; and its results (the funnel
// issued → claimed → redeemed and redemptions by day).
import { get, patch, post, query } from "../api.js";
import { barChart, funnelChart } from "../charts.js";
import { field, h, mount } from "../dom.js";
import { formatDateTime, formatMoney, formatPercent, t, tMaybe } from "../i18n.js";
import { session } from "../state.js";
import { describeDiscount } from "./counter.js";
import { alertBox, errorText, heading, isMissingRoute, loading, localDate, merchantTiers, parseYuan, statusLine, tierName, yuanInput } from "./common.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function idForm(navigate) {
  const input = h("input", { type: "text", name: "campaign_id", autocomplete: "off", spellcheck: "false" });
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: (e) => {
        e.preventDefault();
        const id = input.value.trim();
        if (UUID.test(id)) navigate(`campaigns/${id}`);
        else input.setAttribute("aria-invalid", "true");
      },
    },
    field(t("campaigns.id"), input),
    h("button", { type: "submit", class: "btn btn-secondary" }, t("campaigns.open")),
  );
}

export async function renderCampaigns(main, { navigate, params }) {
  const merchantId = session.merchant.merchant_id;
  const body = h("div", { class: "stack" }, loading());
  mount(
    main,
    h("section", { class: "card wide" },
      h("div", { class: "title-row" }, heading(t("campaigns.title")),
        h("a", { class: "btn btn-primary", href: "#/campaigns/new" }, t("campaigns.new"))),
      body),
  );
  main.querySelector("h1").focus();
  let data;
  try {
    data = await get(`/v1/merchants/${merchantId}/campaigns${query({ limit: 50, cursor: params.get("cursor") })}`);
  } catch (error) {
    if (isMissingRoute(error)) return mount(body, idForm(navigate));
    return mount(body, alertBox("error", t("common.error"), errorText(error)), idForm(navigate));
  }
  const items = Array.isArray(data) ? data : data.items || [];
  if (!items.length) return mount(body, h("p", { class: "empty" }, t("campaigns.empty")), idForm(navigate));
  mount(
    body,
    h(
      "ul",
      { class: "link-list" },
      items.map((c) =>
        h(
          "li",
          {},
          h("a", { href: `#/campaigns/${c.id}` }, h("span", {}, c.name), h("small", { class: `badge status-${c.status}` }, tMaybe(`status.${c.status}`, c.status || ""))),
        ),
      ),
    ),
    data.next_cursor
      ? h("a", { class: "btn btn-secondary", href: `#/campaigns${query({ cursor: data.next_cursor })}` }, t("common.next"))
      : null,
  );
}

const DISCOUNT_KINDS = ["amount_off", "percent_off", "gift"];
// each state change is its own route (spelled out: the contract test reads them from the source)
const ACTIONS = {
  publish: (id) => `/v1/campaigns/${id}/publish`,
  pause: (id) => `/v1/campaigns/${id}/pause`,
  resume: (id) => `/v1/campaigns/${id}/resume`,
  end: (id) => `/v1/campaigns/${id}/end`,
};
const AUDIENCE_KINDS = ["public", "tiers", "segment"];

/**
 * The campaign form. `campaign` null: a new draft. A draft: every field. Published or paused:
 * only name, description, quantity and the end dates (the server refuses the rest), so the
 * other fields are shown read-only. Resolves through `onSaved(campaign)`.
 */
function campaignForm(campaign, { tiers, segments, onSaved, onCancel }) {
  const tz = session.shop?.timezone || undefined;
  const live = campaign && campaign.status !== "draft";
  const discount = campaign?.discount || { kind: "amount_off" };
  const name = h("input", { type: "text", name: "name", maxlength: "120", required: true, value: campaign?.name || "" });
  const description = h("textarea", { name: "description", rows: "2", maxlength: "2000" });
  description.value = campaign?.description || "";
  const kind = h("select", { name: "discount_kind", disabled: live }, DISCOUNT_KINDS.map((k) => h("option", { value: k, selected: k === discount.kind }, t(`campaigns.kind_${k}`))));
  const amount = h("input", { type: "text", name: "amount", inputmode: "decimal", placeholder: "0.00", disabled: live, value: discount.kind === "amount_off" ? yuanInput(discount.value) : "" });
  const percent = h("input", { type: "number", name: "percent", min: "1", max: "100", disabled: live, value: discount.kind === "percent_off" ? discount.value : "" });
  const maxOff = h("input", { type: "text", name: "max_off", inputmode: "decimal", placeholder: "0.00", disabled: live, value: discount.max_off ? yuanInput(discount.max_off) : "" });
  const gift = h("input", { type: "text", name: "gift_name", maxlength: "120", disabled: live, value: discount.gift_name || "" });
  const minSpend = h("input", { type: "text", name: "min_spend", inputmode: "decimal", placeholder: "0.00", disabled: live, value: campaign?.min_spend ? yuanInput(campaign.min_spend) : "" });
  const today = localDate(new Date(), tz);
  // an end instant is the end of its last day: the day before it when it falls on midnight
  const endDate = (value) => (value ? localDate(new Date(new Date(value).getTime() - 1000), tz) : "");
  const validFrom = h("input", { type: "date", name: "valid_from", required: true, disabled: live, value: campaign ? localDate(campaign.valid_from, tz) : today });
  const validUntil = h("input", { type: "date", name: "valid_until", required: true, value: campaign ? endDate(campaign.valid_until) : "" });
  const claimUntil = h("input", { type: "date", name: "claim_until", value: campaign && campaign.claim_until !== campaign.valid_until ? endDate(campaign.claim_until) : "" });
  const quantity = h("input", { type: "number", name: "total_quantity", min: "1", value: campaign?.total_quantity ?? "" });
  const perUser = h("input", { type: "number", name: "per_user_limit", min: "1", max: "100", disabled: live, value: campaign?.per_user_limit ?? 1 });
  const audience = campaign?.audience || { kind: "public" };
  const audienceKind = h("select", { name: "audience_kind", disabled: live }, AUDIENCE_KINDS.map((k) => h("option", { value: k, selected: k === audience.kind }, t(`campaigns.audience_${k}`))));
  const tierBoxes = tiers.map((tier) =>
    h("label", { class: "check" },
      h("input", { type: "checkbox", name: "tier", value: tier.code, disabled: live, checked: (audience.tier_codes || []).includes(tier.code) }),
      h("span", {}, tiers.filter((x) => x.name === tier.name).length > 1 ? `${tier.name}（${tier.program}）` : tier.name)));
  const tierSet = h("fieldset", { class: "checks" }, h("legend", {}, t("campaigns.tiers")),
    tierBoxes.length ? tierBoxes : h("p", { class: "hint" }, t("campaigns.no_tiers")));
  const segment = h("select", { name: "segment_id", disabled: live },
    h("option", { value: "" }, t("campaigns.pick_segment")),
    segments.map((sg) => h("option", { value: sg.id, selected: sg.id === audience.segment_id }, sg.name)));
  const amountF = field(t("campaigns.amount_off"), amount);
  const percentF = field(t("campaigns.percent_off"), percent, t("campaigns.percent_hint"));
  const maxOffF = field(t("campaigns.max_off"), maxOff);
  const giftF = field(t("campaigns.gift_name"), gift);
  const segmentF = field(t("campaigns.segment"), segment);
  const sync = () => {
    amountF.hidden = kind.value !== "amount_off";
    percentF.hidden = maxOffF.hidden = kind.value !== "percent_off";
    giftF.hidden = kind.value !== "gift";
    tierSet.hidden = audienceKind.value !== "tiers";
    segmentF.hidden = audienceKind.value !== "segment";
  };
  kind.addEventListener("change", sync);
  audienceKind.addEventListener("change", sync);
  sync();
  const status = statusLine();
  const save = h("button", { type: "submit", class: "btn btn-primary" }, campaign ? t("common.save") : t("campaigns.create"));

  const bad = (input, message) => {
    input.setAttribute("aria-invalid", "true");
    status.show("error", message);
    input.focus();
    return null;
  };
  const money = (input, { required = false } = {}) => {
    const value = parseYuan(input.value);
    if (value === null && !required) return undefined;
    if (value === null || Number.isNaN(value) || value <= 0) return bad(input, t("campaigns.money_invalid"));
    return { amount: value, currency: "CNY" };
  };

  function read() {
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    const data = { name: name.value.trim(), description: description.value.trim() || null };
    if (!data.name) return bad(name, t("campaigns.name_required"));
    if (!validUntil.value) return bad(validUntil, t("campaigns.until_required"));
    data.valid_until = validUntil.value;
    if (claimUntil.value) data.claim_until = claimUntil.value;
    if (quantity.value) data.total_quantity = Number(quantity.value);
    if (live) return data;
    data.valid_from = validFrom.value;
    if (kind.value === "amount_off") {
      const value = money(amount, { required: true });
      if (!value) return null;
      data.discount = { kind: "amount_off", value };
    } else if (kind.value === "percent_off") {
      const value = Number(percent.value);
      if (!Number.isInteger(value) || value < 1 || value > 100) return bad(percent, t("campaigns.percent_invalid"));
      const max = money(maxOff);
      if (max === null) return null;
      data.discount = { kind: "percent_off", value, ...(max ? { max_off: max } : {}) };
    } else {
      if (!gift.value.trim()) return bad(gift, t("campaigns.gift_required"));
      data.discount = { kind: "gift", gift_name: gift.value.trim() };
    }
    const min = money(minSpend);
    if (min === null) return null;
    data.min_spend = min || null;
    data.per_user_limit = Number(perUser.value || 1);
    if (audienceKind.value === "tiers") {
      const codes = [...tierSet.querySelectorAll("input:checked")].map((box) => box.value);
      if (!codes.length) return bad(tierSet.querySelector("input") || audienceKind, t("campaigns.tiers_required"));
      data.audience = { kind: "tiers", tier_codes: codes };
    } else if (audienceKind.value === "segment") {
      if (!segment.value) return bad(segment, t("campaigns.segment_required"));
      data.audience = { kind: "segment", segment_id: segment.value };
    } else {
      data.audience = { kind: "public" };
    }
    return data;
  }

  const form = h(
    "form",
    {
      class: "stack campaign-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = read();
        if (!data) return;
        save.disabled = true;
        try {
          const saved = campaign
            ? await patch(`/v1/campaigns/${campaign.id}`, data)
            : await post(`/v1/merchants/${session.merchant.merchant_id}/campaigns`, data);
          onSaved(saved);
        } catch (error) {
          status.show("error", errorText(error));
        } finally {
          save.disabled = false;
        }
      },
    },
    live ? h("p", { class: "hint" }, t("campaigns.live_hint")) : null,
    h("div", { class: "form-grid" },
      field(t("campaigns.name"), name),
      field(t("campaigns.description"), description),
      field(t("campaigns.discount_kind"), kind),
      amountF, percentF, maxOffF, giftF,
      field(t("campaigns.min_spend"), minSpend),
      field(t("campaigns.valid_from"), validFrom),
      field(t("campaigns.valid_until"), validUntil),
      field(t("campaigns.claim_until"), claimUntil, t("campaigns.claim_until_hint")),
      field(t("campaigns.quantity"), quantity, live ? t("campaigns.quantity_hint_live", { claimed: (campaign.total_quantity ?? 0) - (campaign.remaining ?? 0) }) : t("campaigns.quantity_hint")),
      field(t("campaigns.per_user"), perUser),
      field(t("campaigns.audience"), audienceKind),
      segmentF),
    tierSet,
    h("div", { class: "button-row" }, save, onCancel ? h("button", { type: "button", class: "btn btn-ghost", onclick: onCancel }, t("common.cancel")) : null),
    status,
  );
  return form;
}

async function formContext(merchantId) {
  const [tiers, segments] = await Promise.allSettled([
    merchantTiers(merchantId),
    get(`/v1/merchants/${merchantId}/segments?limit=100`),
  ]);
  return {
    tiers: tiers.status === "fulfilled" ? tiers.value : [],
    segments: segments.status === "fulfilled" ? segments.value.items || [] : [],
  };
}

export async function renderCampaignNew(main, { navigate }) {
  const body = h("div", { class: "stack" }, loading());
  mount(main, h("section", { class: "card wide" }, h("a", { href: "#/campaigns", class: "back" }, `← ${t("common.back")}`), heading(t("campaigns.new")), body));
  main.querySelector("h1").focus();
  const context = await formContext(session.merchant.merchant_id);
  mount(body, campaignForm(null, { ...context, onSaved: (saved) => navigate(`campaigns/${saved.id}`) }));
}

function campaignFacts(c, tiers) {
  const tz = session.shop?.timezone || undefined;
  const audience = c.audience || {};
  const audienceText =
    audience.kind === "tiers"
      ? `${t("campaigns.audience_tiers")}: ${(audience.tier_codes || []).map((code) => tierName(tiers, code)).join("、")}`
      : tMaybe(`campaigns.audience_${audience.kind}`, audience.kind || "—");
  const rows = [
    [t("campaigns.status"), tMaybe(`status.${c.status}`, c.status)],
    [t("counter.discount"), describeDiscount(c.discount)],
    [t("campaigns.min_spend"), c.min_spend ? formatMoney(c.min_spend) : null],
    [t("campaigns.valid_from"), formatDateTime(c.valid_from, tz)],
    [t("campaigns.valid_until"), formatDateTime(c.valid_until, tz)],
    [t("campaigns.quantity"), c.total_quantity == null ? t("campaigns.unlimited") : t("campaigns.remaining", { total: c.total_quantity, remaining: c.remaining ?? "—" })],
    [t("campaigns.per_user"), c.per_user_limit],
    [t("campaigns.audience"), audienceText],
    [t("campaigns.description"), c.description],
  ].filter(([, v]) => v !== null && v !== undefined && v !== "");
  return h("dl", { class: "facts campaign-facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

export async function renderCampaign(main, { id }) {
  const manage = h("div", { class: "stack" });
  const body = h("div", { class: "stack" }, loading());
  mount(
    main,
    h("section", { class: "card wide" }, h("a", { href: "#/campaigns", class: "back" }, `← ${t("common.back")}`), heading(t("campaigns.title")), manage, body),
  );
  main.querySelector("h1").focus();
  const [campaignResult, stats, context] = await Promise.allSettled([
    get(`/v1/campaigns/${encodeURIComponent(id)}`),
    get(`/v1/campaigns/${encodeURIComponent(id)}/stats`),
    formContext(session.merchant.merchant_id),
  ]);
  if (campaignResult.status === "fulfilled") {
    let campaign = campaignResult.value;
    const { tiers, segments } = context.value;
    const status = statusLine();
    const act = (action) => async () => {
      if (action === "end" && !window.confirm(t("campaigns.end_confirm", { name: campaign.name }))) return;
      try {
        campaign = await post(ACTIONS[action](campaign.id));
        show();
        status.show("ok", t(`campaigns.done_${action}`));
      } catch (error) {
        status.show("error", errorText(error));
      }
    };
    const show = () => {
      main.querySelector("h1").textContent = campaign.name;
      const actions = {
        draft: ["edit", "publish"],
        published: ["edit", "pause", "end"],
        paused: ["edit", "resume", "end"],
        ended: [],
      }[campaign.status] || [];
      const buttons = actions.map((action) =>
        h("button", {
          type: "button",
          class: `btn ${action === "end" ? "btn-ghost btn-danger" : action === "edit" ? "btn-secondary" : "btn-primary"}`,
          onclick: action === "edit" ? edit : act(action),
        }, t(`campaigns.action_${action}`)));
      mount(manage,
        h("p", {}, h("span", { class: `badge status-${campaign.status}` }, tMaybe(`status.${campaign.status}`, campaign.status))),
        campaignFacts(campaign, tiers),
        buttons.length ? h("div", { class: "row-actions campaign-actions" }, buttons) : null,
        status);
    };
    const edit = async () => {
      // fresh figures: coupons may have been claimed since the page opened
      try {
        campaign = await get(`/v1/campaigns/${campaign.id}`);
      } catch (error) {
        return status.show("error", errorText(error));
      }
      mount(manage, campaignForm(campaign, {
        tiers,
        segments,
        onSaved: (saved) => {
          campaign = saved;
          show();
          status.show("ok", t("common.saved"));
        },
        onCancel: () => show(),
      }));
      manage.querySelector("input:not([disabled])")?.focus();
    };
    show();
  }
  if (stats.status === "rejected") {
    const error = stats.reason;
    return mount(body, isMissingRoute(error) ? alertBox("info", t("common.not_available")) : alertBox("error", t("common.error"), errorText(error)));
  }
  renderStats(body, stats.value);
}

function renderStats(body, s) {
  const steps = [
    { label: t("campaign.issued"), value: s.issued || 0 },
    { label: t("campaign.claimed"), value: s.claimed || 0 },
    { label: t("campaign.redeemed"), value: s.redeemed || 0 },
  ];
  const days = (s.by_day || []).map((d) => ({ label: String(d.date || d.day || "").slice(5), date: d.date || d.day, value: d.redeemed || 0 }));
  const total = days.reduce((a, d) => a + d.value, 0);
  const numbers = [
    ["campaign.issued", s.issued],
    ["campaign.claimed", s.claimed],
    ["campaign.redeemed", s.redeemed],
    ["campaign.reversed", s.reversed],
    ["campaign.expired", s.expired],
  ];
  mount(
    body,
    h("h2", {}, t("campaign.results")),
    h("ul", { class: "kpis" }, numbers.map(([k, v]) => h("li", {}, h("span", { class: "kpi-value" }, v ?? 0), h("span", { class: "kpi-label" }, t(k))))),
    h("p", { class: "rate" }, t("campaign.rate", { rate: formatPercent(s.redemption_rate) })),
    h("h2", {}, t("campaign.funnel")),
    h("figure", { class: "chart-box" }, funnelChart(steps, { label: t("campaign.chart_funnel", { issued: steps[0].value, claimed: steps[1].value, redeemed: steps[2].value }) })),
    h("h2", {}, t("campaign.by_day")),
    days.length
      ? h(
          "figure",
          { class: "chart-box" },
          barChart(days, { label: t("campaign.chart_days", { days: days.length, total }) }),
          h(
            "details",
            {},
            h("summary", {}, t("campaign.table")),
            h(
              "table",
              { class: "data" },
              h("tbody", {}, days.map((d) => h("tr", {}, h("th", { scope: "row" }, d.date), h("td", { class: "num" }, d.value)))),
            ),
          ),
        )
      : h("p", { class: "empty" }, t("campaign.no_days")),
  );
}
