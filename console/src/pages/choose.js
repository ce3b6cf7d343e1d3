// Choose the merchant (from GET /v1/me) and the shop this device works at.
// Shops come from GET /v1/merchants/{id}/shops when the server has it; otherwise the shop is
// found by its ID with GET /v1/shops/{id} (and remembered on this device).
import { ApiError, get } from "../api.js";
import { clear, field, h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading, isMissingRoute, loading } from "./common.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function listShops(merchantId) {
  try {
    const data = await get(`/v1/merchants/${merchantId}/shops?limit=100`);
    return Array.isArray(data) ? data : data.items || [];
  } catch (error) {
    if (isMissingRoute(error)) return null; // no list endpoint on this server: pick by ID
    throw error;
  }
}

export async function renderChoose(main, { navigate }) {
  const body = h("div", { class: "stack" }, loading());
  mount(main, h("section", { class: "card" }, heading(t("choose.title")), body));
  main.querySelector("h1").focus();

  const remembered = session.merchant?.merchant_id;
  const [meResult, shopsResult] = await Promise.allSettled([
    get("/v1/me"),
    remembered ? listShops(remembered) : Promise.resolve(undefined),
  ]);
  if (meResult.status === "rejected") {
    mount(body, alertBox("error", t("common.error"), errorText(meResult.reason)));
    return;
  }
  const merchants = meResult.value.merchants || [];
  if (merchants.length === 0) {
    mount(body, alertBox("info", t("choose.no_merchants")));
    return;
  }

  const shopArea = h("div", { class: "stack" });
  const continueButton = h(
    "button",
    { type: "button", class: "btn btn-primary btn-block", disabled: !session.shop, onclick: () => navigate("counter") },
    t("choose.continue"),
  );

  const pickShop = (shop) => {
    session.setShop({ id: shop.id, name: shop.name, merchant_id: shop.merchant_id, timezone: shop.timezone });
    continueButton.disabled = false;
    renderTopbarContext();
  };

  const renderTopbarContext = () => {
    const link = document.querySelector("#topbar .shop-switch");
    if (!link) return;
    const context = [session.merchant?.name, session.shop?.name].filter(Boolean).join(" · ");
    link.querySelector(".shop-switch-name").textContent = session.shop?.name || session.merchant?.name || "";
    link.title = `${t("nav.change")}: ${context}`;
    link.setAttribute("aria-label", link.title);
  };

  const showShops = async (merchant, preloaded) => {
    mount(shopArea, loading());
    let shops = preloaded;
    if (shops === undefined) {
      try {
        shops = await listShops(merchant.merchant_id);
      } catch (error) {
        mount(shopArea, alertBox("error", t("common.error"), errorText(error)));
        return;
      }
    }
    if (shops) {
      const options = shops.map((shop) =>
        h(
          "label",
          { class: "choice" },
          h("input", {
            type: "radio",
            name: "shop",
            value: shop.id,
            checked: session.shop?.id === shop.id,
            onchange: () => pickShop(shop),
          }),
          h("span", {}, shop.name, h("small", {}, shop.address || "")),
        ),
      );
      mount(shopArea, h("fieldset", { class: "choices" }, h("legend", {}, t("choose.shop")), options));
      if (shops.length === 1 && !session.shop) {
        shopArea.querySelector("input").checked = true;
        pickShop(shops[0]);
      }
      return;
    }
    mount(shopArea, shopIdForm(merchant, pickShop));
  };

  const options = merchants.map((m) =>
    h(
      "label",
      { class: "choice" },
      h("input", {
        type: "radio",
        name: "merchant",
        value: m.merchant_id,
        checked: remembered === m.merchant_id,
        onchange: () => {
          session.setMerchant({ merchant_id: m.merchant_id, name: m.name, role: m.role });
          continueButton.disabled = !session.shop;
          renderTopbarContext();
          showShops(m);
        },
      }),
      h("span", {}, m.name, h("small", {}, t(`role.${m.role}`))),
    ),
  );
  mount(
    body,
    h("fieldset", { class: "choices" }, h("legend", {}, t("choose.merchant")), options),
    shopArea,
    continueButton,
  );

  const current = merchants.find((m) => m.merchant_id === remembered);
  if (current) {
    session.setMerchant({ merchant_id: current.merchant_id, name: current.name, role: current.role });
    showShops(current, shopsResult.status === "fulfilled" ? shopsResult.value : undefined);
  } else if (merchants.length === 1) {
    const only = body.querySelector('input[name="merchant"]');
    only.checked = true;
    only.dispatchEvent(new Event("change"));
  } else {
    mount(shopArea, h("p", { class: "hint" }, t("choose.pick_merchant")));
  }
}

function shopIdForm(merchant, pickShop) {
  const input = h("input", {
    type: "text",
    name: "shop_id",
    autocomplete: "off",
    autocapitalize: "off",
    spellcheck: "false",
    pattern: UUID.source,
  });
  const status = h("div", { class: "form-status" });
  const find = async (id) => {
    clear(status);
    try {
      if (!UUID.test(id)) throw new ApiError(404, { code: "shop_not_found" });
      const shop = await get(`/v1/shops/${encodeURIComponent(id)}`);
      if (shop.merchant_id !== merchant.merchant_id) throw new ApiError(404, { code: "shop_not_found" });
      pickShop(shop);
      mount(status, alertBox("ok", shop.name, shop.address));
    } catch (error) {
      const text = error.status === 404 ? t("choose.shop_not_found") : errorText(error);
      mount(status, alertBox("error", t("common.error"), text));
    }
  };
  const recent = session.recentShops(merchant.merchant_id);
  return h(
    "div",
    { class: "stack" },
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: (event) => {
          event.preventDefault();
          find(input.value.trim());
        },
      },
      field(t("choose.shop_id"), input, t("choose.shop_id_hint")),
      h("button", { type: "submit", class: "btn btn-secondary" }, t("choose.shop_lookup")),
    ),
    status,
    recent.length
      ? h(
          "fieldset",
          { class: "choices" },
          h("legend", {}, t("choose.recent_shops")),
          recent.map((shop) =>
            h(
              "label",
              { class: "choice" },
              h("input", {
                type: "radio",
                name: "shop",
                value: shop.id,
                checked: session.shop?.id === shop.id,
                onchange: () => pickShop(shop),
              }),
              h("span", {}, shop.name),
            ),
          ),
        )
      : null,
  );
}
