// The job seeker's dashboard: one page over the public GraphQL API (graph/pages.py serves it).
//
// The API key is asked for once and kept in this tab's sessionStorage: never in a URL, a
// cookie or localStorage. Charts are Chart.js, served by the app like everything else here.
// New clicks show up by themselves: through the `clickRecorded` subscription
// (graphql-transport-ws) when the schema has it, else by asking again every 30 seconds.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("li-config").textContent);
  const KEY_STORAGE = "linkinsights.apiKey";
  const POLL_SECONDS = 30;
  const TREND_DAYS = 90;
  const app = document.getElementById("app");

  const COLORS = {
    accent: "#2563eb",
    accentSoft: "rgba(37, 99, 235, 0.18)",
    good: "#059669",
    goodSoft: "rgba(5, 150, 105, 0.75)",
    muted: "#64748b",
    grid: "rgba(100, 116, 139, 0.15)",
    whisker: "#0f172a",
  };

  const DASHBOARD_QUERY = `
    query Dashboard($days: Int!) {
      engagementSummary {
        totalApplications applicationsWithClicks totalClicks engagementRate
        avgClicksPerApplication insight
        outcomes { level count interviewRate }
      }
      clickTrends(days: $days) { timezone totalClicks insight days { date clicks applications } }
      linkFunctionEffectiveness {
        recommendations
        linkFunctions {
          name sampleSize totalClicks interviewConversionRate
          interviewConversionInterval { low high successes sampleSize }
        }
      }
      timingAnalysis {
        applicationsWithClicks applicationsWithoutClicks noClickInterviewRate
        medianHoursToFirstClick insight
        buckets {
          bucket applications interviews interviewRate
          interviewInterval { low high successes sampleSize }
        }
      }
      highPriorityApplications(first: 20) {
        engagementScore recommendedAction
        application { id status createdAt totalClicks job { title company } }
      }
      followUps(first: 200) { edges { node { id dueAt application { id } } } }
      behavioralPatterns { insights }
    }`;

  const VIEWER_QUERY = `
    query Viewer {
      viewer {
        scopes canWrite
        account { name timezone webhookUrl profileLinks { linkFunction url } }
      }
    }`;

  const UPDATE_ACCOUNT = `
    mutation UpdateAccount($input: UpdateAccountInput!) {
      updateAccount(input: $input) {
        name timezone webhookUrl webhookSecret profileLinks { linkFunction url }
      }
    }`;

  const COMPLETE_FOLLOW_UP = `
    mutation CompleteFollowUp($id: ID!) { completeFollowUp(id: $id) { id completedAt } }`;

  // ---- small DOM helpers (text only: nothing from the API is parsed as HTML) ----

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "className") el.className = value;
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const numberFormat = new Intl.NumberFormat();
  const fmtInt = (n) => (n === null || n === undefined ? "—" : numberFormat.format(n));
  const fmtPct = (p) => (p === null || p === undefined ? "—" : `${p.toFixed(1)}%`);
  const fmtNum = (n, digits) => (n === null || n === undefined ? "—" : n.toFixed(digits));

  function fmtHours(hours) {
    if (hours === null || hours === undefined) return "—";
    if (hours < 1) return `${Math.round(hours * 60)} min`;
    if (hours < 48) return `${hours.toFixed(1)} h`;
    return `${(hours / 24).toFixed(1)} days`;
  }

  function fmtDay(isoDate) {
    const [y, m, d] = isoDate.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(undefined, {
      month: "short",
      day: "numeric",
      timeZone: "UTC",
    });
  }

  // ---- the API ----

  class ApiError extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  function storedKey() {
    return window.sessionStorage.getItem(KEY_STORAGE);
  }

  async function gql(query, variables) {
    let response;
    try {
      response = await fetch(config.graphql, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${storedKey()}`,
        },
        body: JSON.stringify({ query: query, variables: variables || {} }),
      });
    } catch (err) {
      throw new ApiError("The server cannot be reached; retrying shortly.", "NETWORK");
    }
    let body;
    try {
      body = await response.json();
    } catch (err) {
      throw new ApiError(`The server answered ${response.status}.`, "HTTP");
    }
    if (body.errors && body.errors.length && !body.data) {
      const first = body.errors[0];
      throw new ApiError(first.message, (first.extensions || {}).code);
    }
    return body;
  }

  // ---- charts ----

  // Draws each bar's 95% interval as a whisker: the dataset carries `intervals`
  // ([{low, high}] or null, in the bar's units).
  const intervalWhiskers = {
    id: "intervalWhiskers",
    afterDatasetsDraw(chart) {
      const ctx = chart.ctx;
      chart.data.datasets.forEach((dataset, index) => {
        if (!dataset.intervals) return;
        const meta = chart.getDatasetMeta(index);
        if (meta.hidden) return;
        const horizontal = chart.options.indexAxis === "y";
        const scale = chart.scales[horizontal ? meta.xAxisID : meta.yAxisID];
        meta.data.forEach((bar, i) => {
          const interval = dataset.intervals[i];
          if (!interval) return;
          const hi = scale.getPixelForValue(interval.high);
          const lo = scale.getPixelForValue(interval.low);
          const at = horizontal ? bar.y : bar.x;
          const half = Math.min(7, (horizontal ? bar.height : bar.width) / 4);
          // Along the value axis from lo to hi, with caps across the bar.
          const line = (a1, b1, a2, b2) => {
            if (horizontal) {
              ctx.moveTo(a1, b1);
              ctx.lineTo(a2, b2);
            } else {
              ctx.moveTo(b1, a1);
              ctx.lineTo(b2, a2);
            }
          };
          ctx.save();
          ctx.strokeStyle = COLORS.whisker;
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          line(lo, at, hi, at);
          line(lo, at - half, lo, at + half);
          line(hi, at - half, hi, at + half);
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

  // A dashed horizontal reference line: options.plugins.referenceLine = {value, label}.
  const referenceLine = {
    id: "referenceLine",
    afterDatasetsDraw(chart, args, options) {
      if (options.value === null || options.value === undefined) return;
      const y = chart.scales.y.getPixelForValue(options.value);
      const { left, right } = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = COLORS.muted;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(right, y);
      ctx.stroke();
      ctx.restore();
    },
  };

  Chart.defaults.font.family =
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  Chart.defaults.color = "#334155";
  Chart.defaults.animation = false;

  const charts = {};

  function chartIn(name, canvas, spec) {
    if (charts[name]) charts[name].destroy();
    charts[name] = new Chart(canvas, spec);
  }

  function rateChart(name, canvas, rows, options) {
    // rows: [{label, rate, interval, n}]: rates in percent as bars, 95% intervals as whiskers,
    // sample sizes under the labels. Horizontal bars when the labels are names.
    const horizontal = Boolean(options.horizontal);
    const top = Math.max(
      10,
      ...rows.map((r) => (r.interval ? r.interval.high : r.rate || 0)),
      options.reference || 0
    );
    const valueAxis = {
      beginAtZero: true,
      suggestedMax: Math.min(100, Math.ceil(top / 10) * 10),
      ticks: { callback: (v) => `${v}%` },
      grid: { color: COLORS.grid },
      title: { display: true, text: options.axis },
    };
    const categoryAxis = { grid: { display: false }, ticks: { autoSkip: false, maxRotation: 0 } };
    chartIn(name, canvas, {
      type: "bar",
      data: {
        labels: rows.map((r) => [r.label, `n = ${fmtInt(r.n)}`]),
        datasets: [
          {
            label: options.label,
            data: rows.map((r) => r.rate),
            intervals: rows.map((r) => r.interval),
            backgroundColor: options.color || COLORS.goodSoft,
            borderRadius: 4,
            maxBarThickness: horizontal ? 26 : 56,
          },
        ],
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { y: valueAxis, x: categoryAxis },
        plugins: {
          legend: { display: false },
          referenceLine: { value: options.reference },
          tooltip: {
            callbacks: {
              title: (items) => rows[items[0].dataIndex].label,
              label: (item) => {
                const r = rows[item.dataIndex];
                const lines = [`${options.label}: ${fmtPct(r.rate)}`];
                if (r.interval) {
                  lines.push(`95% interval: ${fmtPct(r.interval.low)} – ${fmtPct(r.interval.high)}`);
                  lines.push(`${r.interval.successes} of ${r.interval.sampleSize} applications`);
                } else {
                  lines.push(`${fmtInt(r.n)} applications`);
                }
                return lines;
              },
            },
          },
        },
      },
      plugins: [intervalWhiskers, referenceLine],
    });
  }

  // ---- the page ----

  function card(title, subtitle, body, extraClass) {
    return h(
      "section",
      { className: `card ${extraClass || ""}`.trim(), "data-panel": extraClass || title },
      h("header", { className: "card-head" }, h("h2", {}, title), subtitle ? h("p", { className: "sub" }, subtitle) : null),
      body
    );
  }

  function empty(text) {
    return h("p", { className: "empty" }, text);
  }

  function chartBox(id) {
    return h("div", { className: "chart" }, h("canvas", { id: id, role: "img" }));
  }

  const state = { viewer: null, data: null, live: "", error: "", timer: null, socket: null, editing: false };

  function showLogin(message) {
    stopLive();
    Object.values(charts).forEach((c) => c.destroy());
    for (const name of Object.keys(charts)) delete charts[name];
    const input = h("input", {
      id: "api-key",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: "li_xxxxxxxx_…",
      required: true,
    });
    if (config.demoKey) input.value = config.demoKey;
    const error = h("p", { className: "error", role: "alert" }, message || "");
    const form = h(
      "form",
      {
        className: "login",
        onsubmit: async (event) => {
          event.preventDefault();
          const key = input.value.trim();
          if (!key) return;
          window.sessionStorage.setItem(KEY_STORAGE, key);
          error.textContent = "";
          state.data = null;
          state.viewer = null;
          state.error = "";
          state.editing = false;
          await start();
        },
      },
      h("h1", {}, "linkinsights"),
      h("p", { className: "lead" }, "Which of your applications employers are looking at, and what to do next."),
      h("label", { for: "api-key" }, "Your API key"),
      input,
      h(
        "p",
        { className: "hint" },
        "Kept in this browser tab only (session storage) and sent to this server alone. ",
        config.demoKey ? "The local demo filled it in for you." : "Create one with `linkinsights apikey create`."
      ),
      h("button", { type: "submit", className: "primary" }, "Open dashboard"),
      error
    );
    app.replaceChildren(h("main", { className: "login-wrap" }, form));
    input.focus();
  }

  function header() {
    const v = state.viewer;
    const account = v ? v.account : null;
    return h(
      "header",
      { className: "top" },
      h("div", { className: "brand" }, h("h1", {}, "linkinsights"), account ? h("span", { className: "who" }, account.name) : null),
      h(
        "div",
        { className: "top-right" },
        h("span", { className: "live", id: "live-status" }, state.live),
        account ? h("span", { className: "tz" }, `Times in ${account.timezone}`) : null,
        h(
          "button",
          {
            className: "link",
            onclick: () => {
              window.sessionStorage.removeItem(KEY_STORAGE);
              showLogin("Signed out: the key is gone from this tab.");
            },
          },
          "Sign out"
        )
      )
    );
  }

  function summaryPanel(d) {
    const s = d.engagementSummary;
    const tile = (label, value, note) =>
      h("div", { className: "tile" }, h("div", { className: "value" }, value), h("div", { className: "label" }, label), note ? h("div", { className: "note" }, note) : null);
    const levels = { HIGH: "High engagement", LOW: "Low engagement", NONE: "No clicks" };
    const outcomes = (s.outcomes || []).filter((o) => o.count > 0);
    return card(
      "Engagement summary",
      null,
      h(
        "div",
        {},
        h(
          "div",
          { className: "tiles" },
          tile("Applications", fmtInt(s.totalApplications)),
          tile("Clicked by an employer", fmtInt(s.applicationsWithClicks), s.engagementRate === null ? null : fmtPct(s.engagementRate) + " of all"),
          tile("Human clicks", fmtInt(s.totalClicks)),
          tile("Clicks per application", fmtNum(s.avgClicksPerApplication, 2))
        ),
        outcomes.length
          ? h(
              "table",
              { className: "outcomes" },
              h("thead", {}, h("tr", {}, h("th", {}, "Engagement"), h("th", { className: "num" }, "Applications"), h("th", { className: "num" }, "Interview rate"))),
              h(
                "tbody",
                {},
                outcomes.map((o) =>
                  h("tr", {}, h("td", {}, levels[o.level] || o.level), h("td", { className: "num" }, fmtInt(o.count)), h("td", { className: "num" }, fmtPct(o.interviewRate)))
                )
              )
            )
          : null,
        h("p", { className: "insight" }, s.insight)
      ),
      "summary"
    );
  }

  function trendsPanel(d) {
    const t = d.clickTrends;
    const body = t.totalClicks
      ? chartBox("trend-chart")
      : empty(`No human clicks in the last ${TREND_DAYS} days yet. Share your tracked links and they will show up here.`);
    const insight = t.totalClicks ? h("p", { className: "insight" }, t.insight) : null;
    return card("Daily human clicks", `Last ${TREND_DAYS} days, ${fmtInt(t.totalClicks)} clicks, days in ${t.timezone}`, h("div", {}, body, insight), "trends");
  }

  function drawTrends(d) {
    const t = d.clickTrends;
    const canvas = document.getElementById("trend-chart");
    if (!canvas) return;
    chartIn("trends", canvas, {
      type: "bar",
      data: {
        labels: t.days.map((day) => fmtDay(day.date)),
        datasets: [
          {
            label: "Human clicks",
            data: t.days.map((day) => day.clicks),
            backgroundColor: COLORS.accent,
            borderRadius: 2,
            barPercentage: 0.9,
            categoryPercentage: 0.9,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLORS.grid } },
          x: { grid: { display: false }, ticks: { autoSkip: true, maxTicksLimit: 12, maxRotation: 0 } },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => t.days[items[0].dataIndex].date,
              label: (item) => {
                const day = t.days[item.dataIndex];
                return [`${day.clicks} human clicks`, `${day.applications} applications clicked`];
              },
            },
          },
        },
      },
    });
  }

  function linkPanel(d) {
    const rows = d.linkFunctionEffectiveness.linkFunctions.filter((f) => f.sampleSize > 0);
    const body = rows.length ? chartBox("link-chart") : empty("No tracked links yet: create the standard link package of an application (createApplicationLinks) to compare them.");
    return card("Which links lead to interviews", "Interview rate of the applications carrying each link, with its 95% interval (whiskers) and sample size", body, "links");
  }

  function drawLinks(d) {
    const canvas = document.getElementById("link-chart");
    if (!canvas) return;
    const rows = d.linkFunctionEffectiveness.linkFunctions
      .filter((f) => f.sampleSize > 0)
      .map((f) => ({
        label: f.name.replace(/_/g, " "),
        rate: f.interviewConversionRate,
        interval: f.interviewConversionInterval,
        n: f.sampleSize,
      }));
    rateChart("links", canvas, rows, {
      label: "Interview rate",
      axis: "Interview rate of applications with the link",
      color: COLORS.goodSoft,
      horizontal: true,
    });
  }

  const BUCKET_LABELS = { "<1h": "< 1 hour", "1-4h": "1–4 hours", "4-24h": "4–24 hours", "1-3d": "1–3 days", "3-7d": "3–7 days", ">7d": "> 7 days" };

  function timingPanel(d) {
    const t = d.timingAnalysis;
    const any = t.buckets.some((b) => b.applications > 0);
    if (!any) {
      return card("Time to first click", "How soon employers click, and how often that led to an interview", empty("No application has been clicked yet, so there is no time to first click to show."), "timing");
    }
    const note = `Median ${fmtHours(t.medianHoursToFirstClick)} to the first click. Dashed line: the ${fmtInt(t.applicationsWithoutClicks)} applications never clicked (${fmtPct(t.noClickInterviewRate)} reached interview)`;
    return card("Time to first click", note, h("div", {}, chartBox("timing-chart"), h("p", { className: "insight" }, t.insight)), "timing");
  }

  function drawTiming(d) {
    const canvas = document.getElementById("timing-chart");
    if (!canvas) return;
    const t = d.timingAnalysis;
    const rows = t.buckets.map((b) => ({
      label: BUCKET_LABELS[b.bucket] || b.bucket,
      rate: b.interviewRate,
      interval: b.interviewInterval,
      n: b.applications,
    }));
    rateChart("timing", canvas, rows, {
      label: "Interview rate",
      axis: "Interview rate",
      color: "rgba(37, 99, 235, 0.7)",
      reference: t.noClickInterviewRate,
    });
  }

  function priorityPanel(d) {
    const rows = d.highPriorityApplications;
    const openFollowUps = new Map();
    for (const edge of d.followUps.edges) {
      const node = edge.node;
      if (node.application && !openFollowUps.has(node.application.id)) openFollowUps.set(node.application.id, node);
    }
    const canWrite = state.viewer && state.viewer.canWrite;
    if (!rows.length) {
      return card("Follow up now", "Applications employers engaged with that still wait at APPLIED", empty("Nothing needs a follow-up right now."), "priority");
    }
    const list = h(
      "ol",
      { className: "priority-list" },
      rows.map((row) => {
        const a = row.application;
        const job = a.job ? `${a.job.title}${a.job.company ? " · " + a.job.company : ""}` : "Application without a job";
        const followUp = openFollowUps.get(a.id);
        let action = null;
        if (followUp && canWrite) {
          const button = h("button", { className: "done", title: "Mark the follow-up done (completeFollowUp)" }, "Done");
          button.addEventListener("click", async () => {
            button.disabled = true;
            try {
              await gql(COMPLETE_FOLLOW_UP, { id: followUp.id });
              button.replaceWith(h("span", { className: "done-mark" }, "✓ done"));
            } catch (err) {
              button.disabled = false;
              button.title = err.message;
              showError(err);
            }
          });
          action = button;
        } else if (followUp) {
          action = h("span", { className: "muted" }, "follow-up open");
        }
        return h(
          "li",
          {},
          h("div", { className: "score", title: "Engagement score" }, String(row.engagementScore)),
          h(
            "div",
            { className: "what" },
            h("div", { className: "job" }, job),
            h("div", { className: "action" }, row.recommendedAction || "Send a short follow-up."),
            h("div", { className: "meta" }, `Applied ${new Date(a.createdAt).toLocaleDateString()} · ${fmtInt(a.totalClicks)} clicks`)
          ),
          h("div", { className: "act" }, action)
        );
      })
    );
    return card("Follow up now", `The ${rows.length} most engaged applications still at APPLIED, with what to do`, list, "priority");
  }

  function recommendationsPanel(d) {
    const lines = [
      ...d.linkFunctionEffectiveness.recommendations,
      ...d.behavioralPatterns.insights,
    ].filter(Boolean);
    const body = lines.length ? h("ul", { className: "recs" }, lines.map((l) => h("li", {}, l))) : empty("Recommendations appear once employers start clicking your links.");
    return card("Recommendations", "In words, from your own history", body, "recommendations");
  }

  function accountPanel() {
    const v = state.viewer;
    if (!v) return null;
    const a = v.account;
    const rows = [
      ["Name", a.name],
      ["Time zone", a.timezone],
      ["Webhook", a.webhookUrl || "none"],
      ["This key may", v.scopes.join(", ")],
    ];
    const links = a.profileLinks.length
      ? h("ul", { className: "profile-links" }, a.profileLinks.map((l) => h("li", {}, h("span", { className: "fn" }, l.linkFunction.replace(/_/g, " ")), " ", h("span", { className: "url" }, l.url))))
      : h("p", { className: "muted" }, "No saved profile links.");
    const body = h(
      "div",
      { id: "account-body" },
      h("dl", {}, rows.map(([k, val]) => [h("dt", {}, k), h("dd", {}, val)])),
      h("h3", {}, "Profile links"),
      links,
      v.canWrite ? h("button", { className: "secondary", onclick: () => editAccount() }, "Edit settings") : h("p", { className: "muted" }, "This key is read-only: settings cannot be changed with it.")
    );
    return card("Your account", null, body, "account");
  }

  function editAccount() {
    state.editing = true;
    const a = state.viewer.account;
    const box = document.getElementById("account-body");
    const tz = h("input", { id: "tz", value: a.timezone, list: "tz-list", required: true });
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    const tzList = h("datalist", { id: "tz-list" }, zones.map((z) => h("option", { value: z })));
    const webhook = h("input", { id: "webhook", type: "url", value: a.webhookUrl || "", placeholder: "https://… (empty: no webhook)" });
    const linkRows = h("div", { className: "link-rows" });
    const addRow = (fn, url) => {
      const row = h(
        "div",
        { className: "link-row" },
        h("input", { className: "fn", value: fn || "", placeholder: "LinkedIn", "aria-label": "Link function" }),
        h("input", { className: "url", type: "url", value: url || "", placeholder: "https://…", "aria-label": "URL" }),
        h("button", { type: "button", className: "link", onclick: () => row.remove() }, "remove")
      );
      linkRows.append(row);
    };
    a.profileLinks.forEach((l) => addRow(l.linkFunction, l.url));
    const message = h("p", { className: "error", role: "alert" });
    const form = h(
      "form",
      {
        className: "edit",
        onsubmit: async (event) => {
          event.preventDefault();
          const profileLinks = [...linkRows.querySelectorAll(".link-row")]
            .map((r) => ({ linkFunction: r.querySelector(".fn").value.trim(), url: r.querySelector(".url").value.trim() }))
            .filter((l) => l.linkFunction || l.url);
          const input = { timezone: tz.value.trim(), profileLinks: profileLinks, webhookUrl: webhook.value.trim() || null };
          try {
            const body = await gql(UPDATE_ACCOUNT, { input: input });
            if (body.errors && body.errors.length) {
              message.textContent = body.errors.map((e) => e.message).join(" ");
              return;
            }
            const saved = body.data.updateAccount;
            state.editing = false;
            await loadViewer();
            render();
            if (saved.webhookSecret) {
              const panel = document.getElementById("account-body");
              panel.prepend(
                h("p", { className: "secret" }, "Webhook secret (shown this once, keep it to verify deliveries): ", h("code", {}, saved.webhookSecret))
              );
            }
            refresh();
          } catch (err) {
            message.textContent = err.message;
          }
        },
      },
      h("label", { for: "tz" }, "Time zone"),
      tz,
      tzList,
      h("label", {}, "Profile links"),
      linkRows,
      h("button", { type: "button", className: "link", onclick: () => addRow("", "") }, "+ add a link"),
      h("label", { for: "webhook" }, "Webhook URL"),
      webhook,
      h("div", { className: "buttons" }, h("button", { type: "submit", className: "primary" }, "Save"), h("button", { type: "button", className: "secondary", onclick: () => { state.editing = false; render(); } }, "Cancel")),
      message
    );
    box.replaceChildren(form);
  }

  function showError(err) {
    state.error = err.message;
    const banner = document.getElementById("banner");
    if (banner) {
      banner.textContent = err.message;
      banner.hidden = false;
    }
  }

  function render() {
    const d = state.data;
    if (!d) return;
    const banner = h("div", { id: "banner", className: "banner", role: "status", hidden: !state.error }, state.error);
    // A refresh while the settings are being edited keeps the form as it is, and the
    // follow-up list keeps its scroll position.
    const editing = state.editing && document.querySelector("[data-panel=account]");
    const list = document.querySelector(".priority-list");
    const listScroll = list ? list.scrollTop : 0;
    app.replaceChildren(
      header(),
      banner,
      h(
        "main",
        { className: "grid" },
        summaryPanel(d),
        trendsPanel(d),
        linkPanel(d),
        timingPanel(d),
        priorityPanel(d),
        h("div", { className: "side" }, recommendationsPanel(d), editing || accountPanel())
      )
    );
    const newList = document.querySelector(".priority-list");
    if (newList) newList.scrollTop = listScroll;
    drawTrends(d);
    drawLinks(d);
    drawTiming(d);
    document.body.dataset.ready = "true";
  }

  async function loadViewer() {
    const body = await gql(VIEWER_QUERY);
    state.viewer = body.data.viewer;
  }

  async function refresh() {
    try {
      const body = await gql(DASHBOARD_QUERY, { days: TREND_DAYS });
      state.data = body.data;
      state.error = body.errors && body.errors.length ? body.errors.map((e) => e.message).join(" ") : "";
      render();
    } catch (err) {
      if (err.code === "UNAUTHENTICATED") {
        window.sessionStorage.removeItem(KEY_STORAGE);
        showLogin(err.message);
        return;
      }
      showError(err);
    }
  }

  // ---- live updates ----

  function setLive(text) {
    state.live = text;
    const el = document.getElementById("live-status");
    if (el) el.textContent = text;
  }

  function stopLive() {
    if (state.timer) window.clearInterval(state.timer);
    state.timer = null;
    if (state.socket) state.socket.close();
    state.socket = null;
  }

  function poll() {
    stopLive();
    setLive(`Updates every ${POLL_SECONDS} s`);
    state.timer = window.setInterval(refresh, POLL_SECONDS * 1000);
  }

  async function hasClickSubscription() {
    try {
      const body = await gql("query Live { __schema { subscriptionType { fields { name } } } }");
      const type = body.data.__schema.subscriptionType;
      return Boolean(type && type.fields.some((f) => f.name === "clickRecorded"));
    } catch (err) {
      return false;
    }
  }

  // graphql-transport-ws, the protocol Strawberry speaks: connection_init with the key,
  // then one subscription; each event refreshes the panels (at most once a second).
  function subscribe() {
    stopLive();
    const url = new URL(config.graphql, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url.toString(), "graphql-transport-ws");
    // The server may send its JSON as binary frames (orjson writes bytes): read both kinds.
    socket.binaryType = "arraybuffer";
    const decoder = new TextDecoder();
    state.socket = socket;
    let pending = null;
    let acknowledged = false;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${storedKey()}` } }));
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(typeof event.data === "string" ? event.data : decoder.decode(event.data));
      } catch (err) {
        socket.close();
        return;
      }
      if (message.type === "connection_ack") {
        acknowledged = true;
        setLive("Live");
        socket.send(JSON.stringify({ id: "clicks", type: "subscribe", payload: { query: "subscription Clicks { clickRecorded { __typename } }" } }));
      } else if (message.type === "next") {
        if (!pending) pending = window.setTimeout(() => { pending = null; refresh(); }, 1000);
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "error" || message.type === "complete") {
        socket.close();
      }
    });
    socket.addEventListener("close", () => {
      if (state.socket !== socket) return;
      // The subscription is gone (or was refused): poll instead, so nothing is missed.
      state.socket = null;
      poll();
      if (!acknowledged) setLive(`Updates every ${POLL_SECONDS} s`);
    });
  }

  async function start() {
    if (!state.data) app.replaceChildren(h("p", { className: "loading", role: "status" }, "Loading your dashboard…"));
    try {
      await loadViewer();
    } catch (err) {
      window.sessionStorage.removeItem(KEY_STORAGE);
      showLogin(err.code === "UNAUTHENTICATED" ? "That key is unknown or revoked." : err.message);
      return;
    }
    await refresh();
    if (await hasClickSubscription()) subscribe();
    else poll();
  }

  if (!storedKey() && config.demoKey) window.sessionStorage.setItem(KEY_STORAGE, config.demoKey);
  if (storedKey()) start();
  else showLogin("");
})();
