import { api } from "../api.js";
import { field, h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { session } from "../state.js";
import { alertBox, errorText, heading } from "./common.js";

export function renderSignin(main, { navigate }) {
  const username = h("input", {
    name: "username",
    type: "text",
    autocomplete: "username",
    inputmode: "email",
    required: true,
    autocapitalize: "off",
    spellcheck: "false",
  });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const status = h("div", { class: "form-status" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("signin.submit"));
  const form = h(
    "form",
    {
      class: "card narrow",
      novalidate: false,
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        mount(status);
        try {
          const tokens = await api("POST", "/v1/auth/token", {
            form: { username: username.value.trim(), password: password.value },
            auth: false,
          });
          session.setTokens(tokens);
          navigate("choose");
        } catch (error) {
          mount(status, alertBox("error", t("signin.failed"), errorText(error)));
          password.select();
          password.focus();
        } finally {
          submit.disabled = false;
        }
      },
    },
    heading(t("signin.title")),
    field(t("signin.username"), username),
    field(t("signin.password"), password),
    status,
    submit,
  );
  mount(main, form);
  username.focus();
}
