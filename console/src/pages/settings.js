// The merchant's settings: the SMS signature (短信签名) of the messages the merchant sends its
// customers (flash offers, birthday greetings). Owners and managers change it (PATCH
// /v1/merchants/{id}; the API refuses anyone else); empty clears it (the platform's signature
// is used). The signature must be one the SMS provider approved for the platform's account.
import { get, patch } from "../api.js";
import { field, h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading, loading, MANAGER_ROLES, statusLine } from "./common.js";

// as the API checks it (accounts/schemas.py SMS_SIGN_NAME): said before the request is sent
const SIGN_NAME = /^[\u4e00-\u9fffA-Za-z0-9]{2,12}$/;

export async function renderSettings(main) {
  const merchantId = session.merchant.merchant_id;
  const manager = MANAGER_ROLES.includes(session.merchant.role);
  const body = h("div", { class: "stack" }, loading());
  mount(main, h("section", { class: "card settings" }, heading(t("settings.title")), body));
  main.querySelector("h1").focus();

  let merchant;
  try {
    merchant = await get(`/v1/merchants/${merchantId}`);
  } catch (error) {
    return mount(body, alertBox("error", t("common.error"), errorText(error)));
  }
  const input = h("input", {
    name: "sms_sign_name", type: "text", maxlength: "12", autocomplete: "off",
    value: merchant.sms_sign_name || "", placeholder: t("settings.sms_sign_placeholder"),
    disabled: manager ? undefined : true,
  });
  const status = statusLine();
  const current = h("p", { class: "muted", id: "sms-sign-current" });
  const showCurrent = () => {
    current.textContent = merchant.sms_sign_name
      ? t("settings.sms_sign_current", { name: merchant.sms_sign_name })
      : t("settings.sms_sign_platform");
  };
  showCurrent();

  async function save(event) {
    event.preventDefault();
    const value = input.value.trim() || null;
    if (value !== null && !SIGN_NAME.test(value)) {
      status.show("error", t("settings.sms_sign_rule"));
      input.setAttribute("aria-invalid", "true");
      return input.focus();
    }
    input.removeAttribute("aria-invalid");
    try {
      merchant = await patch(`/v1/merchants/${merchantId}`, { sms_sign_name: value });
      input.value = merchant.sms_sign_name || "";
      showCurrent();
      status.show("ok", value ? t("settings.sms_sign_saved", { name: value }) : t("settings.sms_sign_cleared"));
    } catch (error) {
      // one line: our words for the signature's rule, else the API's refusal
      const rule = error.status === 422 && (error.problem?.errors || []).some((e) => (e.loc || []).includes("sms_sign_name"));
      status.show("error", rule ? t("settings.sms_sign_rule") : errorText(error));
    }
  }

  const form = h("form", { class: "stack", onsubmit: save, "aria-labelledby": "settings-sms" },
    h("h2", { id: "settings-sms" }, t("settings.sms_sign")),
    current,
    field(t("settings.sms_sign_label"), input, t("settings.sms_sign_hint")),
    manager
      ? h("div", { class: "actions" }, h("button", { type: "submit", class: "btn btn-primary" }, t("common.save")))
      : h("p", { class: "muted" }, t("settings.managers_only")),
    status);
  mount(body, form);
}
