// GraphiQL with the explorer plugin, configured by the page's JSON block (graph/pages.py):
// the endpoint, one tab per worked example and, in the local demo only, the headers with
// the demo key. Nothing here is loaded from another site.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("li-config").textContent);
  const url = new URL(config.url, window.location.href);
  const wsUrl = new URL(url);
  wsUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";

  // A browser cannot put headers on a WebSocket: subscriptions send the key in the
  // connection_init payload instead (known here only in the local demo).
  const fetcher = GraphiQL.createFetcher({
    url: url.toString(),
    subscriptionUrl: wsUrl.toString(),
    wsConnectionParams: config.headers ? JSON.parse(config.headers) : undefined,
  });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();
  const headers = config.headers || "";
  const tabs = config.tabs.map(function (tab) {
    return { query: tab.query, variables: tab.variables, headers: headers };
  });

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultTabs: tabs,
      // The first tab's contents: on a reload GraphiQL finds that tab again in its storage
      // instead of opening another copy.
      query: tabs[0].query,
      variables: tabs[0].variables,
      headers: headers,
      defaultEditorToolsVisibility: headers ? "headers" : true,
      isHeadersEditorEnabled: true,
      // Tabs, and a key typed into a headers pane, last as long as the browser tab: kept in
      // its session storage, never in localStorage.
      storage: window.sessionStorage,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
