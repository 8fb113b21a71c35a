/* Chat widget loader: the only code that runs on page load. Plain JS, no framework.
   <script async src="https://RELAY/embed.js" data-site="SITE"></script>
   It makes a Shadow DOM host with a launcher, and loads the wasm widget when the browser
   is idle or at the first click, whichever comes first. */
(function (d, s) {
  var data = s.dataset, relay = (data.relay || new URL(s.src).origin).replace(/\/$/, '');
  var host = d.createElement('div'), root = host.attachShadow({ mode: 'open' });
  var css = d.createElement('link'), button = d.createElement('button'), wantOpen = false, loading;
  host.id = 'chat-widget';
  css.rel = 'stylesheet';
  css.href = relay + '/widget/style.css';
  button.className = 'cw-launcher cw-boot';
  button.type = 'button';
  button.setAttribute('aria-label', 'Open chat');
  button.textContent = '\uD83D\uDCAC';
  root.append(css, button);
  function load() {
    return loading = loading || import(relay + '/widget/widget.js').then(function (m) {
      return m.default({ module_or_path: relay + '/widget/widget_bg.wasm' }).then(function () {
        button.remove();
        m.mount(root, { site: data.site, relay: relay, open: wantOpen });
      });
    });
  }
  button.onclick = function () { wantOpen = true; button.setAttribute('aria-busy', 'true'); load(); };
  (window.requestIdleCallback || setTimeout)(load);
  (d.body ? d.body.append(host) : d.addEventListener('DOMContentLoaded', function () { d.body.append(host); }));
})(document, document.currentScript);
