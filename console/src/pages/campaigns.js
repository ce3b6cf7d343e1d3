// Campaign results: the funnel (issued → claimed → redeemed) and redemptions by day.
import { get, query } from "../api.js";
import { barChart, funnelChart } from "../charts.js";
import { field, h, mount } from "../dom.js";
import { formatPercent, t, tMaybe } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading, isMissingRoute, loading } from "./common.js";

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
  mount(main, h("section", { class: "card wide" }, heading(t("campaigns.title")), body));
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

export async function renderCampaign(main, { id }) {
  const body = h("div", { class: "stack" }, loading());
  mount(
    main,
    h("section", { class: "card wide" }, h("a", { href: "#/campaigns", class: "back" }, `← ${t("common.back")}`), heading(t("campaigns.title")), body),
  );
  main.querySelector("h1").focus();
  const [campaign, stats] = await Promise.allSettled([
    get(`/v1/campaigns/${encodeURIComponent(id)}`),
    get(`/v1/campaigns/${encodeURIComponent(id)}/stats`),
  ]);
  if (stats.status === "rejected") {
    const error = stats.reason;
    return mount(body, isMissingRoute(error) ? alertBox("info", t("common.not_available")) : alertBox("error", t("common.error"), errorText(error)));
  }
  if (campaign.status === "fulfilled" && campaign.value?.name) main.querySelector("h1").textContent = campaign.value.name;
  const s = stats.value;
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
