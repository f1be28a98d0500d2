/* PayKit embed, as served by paywall-emulator: a credits meter with a Buy button, declarative
 * data-paykit-meter / data-paykit-plan elements, and window.PayKit.
 *
 *   <div id="paykit"></div>
 *   <script src="http://127.0.0.1:8787/embed.js" data-key="pk_live_demo"></script>
 *
 * Attributes of the script tag: data-key (publishable key), data-user (your user's id; without it a
 * per-browser id is kept in localStorage), data-accent (meter colour), data-base (API origin; default:
 * the origin this script came from).
 */
(function () {
  "use strict";
  var tag = document.currentScript || (function () {
    var all = document.getElementsByTagName("script");
    return all[all.length - 1];
  })();
  var base = (tag.getAttribute("data-base") || new URL(tag.src, location.href).origin).replace(/\/+$/, "");
  var key = tag.getAttribute("data-key") || "";
  var accent = tag.getAttribute("data-accent") || "#34d399";
  var STORAGE = "paykit_uid";

  function resolveUser() {
    var given = tag.getAttribute("data-user");
    if (given) return given;
    try {
      var stored = localStorage.getItem(STORAGE);
      if (!stored) {
        stored = "web_" + Math.random().toString(36).slice(2, 10);
        localStorage.setItem(STORAGE, stored);
      }
      return stored;
    } catch (e) {
      return "web_anon";
    }
  }

  var user = resolveUser();
  var current = null;

  function call(path, body) {
    var init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ userId: user, key: key }, body))
    };
    return fetch(base + "/api/v1" + path, init).then(function (r) { return r.json(); });
  }

  function refresh() {
    var q = "?userId=" + encodeURIComponent(user) + "&key=" + encodeURIComponent(key);
    return call("/access" + q).then(function (a) { current = a; paint(); return a; });
  }

  function meter(event, cost) {
    var body = { event: event || "usage" };
    if (cost !== undefined) body.cost = cost;
    return call("/meter", body).then(function (r) {
      return refresh().then(function () { return r; });
    });
  }

  function go(path, body) {
    return call(path, body).then(function (r) {
      if (r && r.url) window.location.assign(r.url);
      return r;
    });
  }

  function buy() { return go("/checkout", { kind: "credits" }); }
  function upgrade() { return go("/checkout", { kind: "pro" }); }
  function portal() { return go("/portal", {}); }

  function host() {
    var el = document.getElementById("paykit");
    if (!el) {
      el = document.createElement("div");
      el.id = "paykit";
      document.body.appendChild(el);
    }
    return el;
  }

  function text(tagName, value, css) {
    var node = document.createElement(tagName);
    node.textContent = value;
    if (css) node.style.cssText = css;
    return node;
  }

  function button(label, attr, onClick) {
    var b = text("button", label, "padding:8px 12px;border-radius:8px;border:none;cursor:pointer;font:inherit;" +
      "font-weight:600;background:" + accent + ";color:#06120c");
    b.setAttribute(attr, "");
    b.addEventListener("click", onClick);
    return b;
  }

  function paint() {
    if (!current) return;
    var el = host();
    el.textContent = "";
    var box = document.createElement("div");
    box.setAttribute("data-paykit-widget", "");
    box.style.cssText = "display:inline-flex;align-items:center;gap:12px;padding:10px 14px;border-radius:12px;" +
      "background:#0c0c0e;color:#e4e4e7;font-family:system-ui,sans-serif;font-size:13px;border:1px solid " + accent;
    if (current.error || typeof current.credits !== "number") {
      box.appendChild(text("span", "PayKit: " + (current.error || "unavailable") + " — check your data-key"));
      box.setAttribute("data-paykit-error", "");
      el.appendChild(box);
      return;
    }
    var pro = (current.entitlements || []).indexOf("pro") >= 0;
    var count = text("strong", String(current.credits), "font-size:18px");
    count.setAttribute("data-paykit-credits", "");
    box.appendChild(count);
    box.appendChild(text("span", "credits left"));
    if (pro) box.appendChild(text("span", "Pro", "color:" + accent)).setAttribute("data-paykit-pro", "");
    box.appendChild(button("Buy credits", "data-paykit-buy", buy));
    if (pro) box.appendChild(button("Manage billing", "data-paykit-portal", portal));
    else box.appendChild(button("Upgrade to Pro", "data-paykit-upgrade", upgrade));
    el.appendChild(box);
    var gated = document.querySelectorAll("[data-paykit-plan]");
    for (var i = 0; i < gated.length; i++) {
      var plan = gated[i].getAttribute("data-paykit-plan");
      var allowed = plan === "free" || (current.entitlements || []).indexOf(plan) >= 0;
      gated[i].style.display = allowed ? "" : "none";
    }
  }

  function wire() {
    var nodes = document.querySelectorAll("[data-paykit-meter]");
    for (var i = 0; i < nodes.length; i++) {
      (function (node) {
        if (node.__paykit) return;
        node.__paykit = true;
        node.addEventListener("click", function () {
          meter(node.getAttribute("data-paykit-meter")).then(function (r) {
            if (r && r.blocked) buy();
          });
        });
      })(nodes[i]);
    }
  }

  window.PayKit = {
    user: user,
    meter: meter,
    buy: buy,
    upgrade: upgrade,
    portal: portal,
    refresh: refresh,
    account: function () { return current; }
  };

  function start() { wire(); refresh(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
