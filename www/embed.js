/* Chat widget loader: the only code that runs on page load. Plain JS, no framework.
   <script async src="https://RELAY/embed.js" data-site="SITE" [data-lang="de"]></script>
   It makes a Shadow DOM host with a launcher, and loads the wasm widget when the browser is
   idle or at the first click, whichever comes first. window.ChatWidget(command, ...) works
   at once: calls made before the widget has loaded are queued, and so are calls a page makes
   before this script runs, with the stub
   window.ChatWidget=window.ChatWidget||function(){(ChatWidget.q=ChatWidget.q||[]).push(arguments)} */
(function (w, d, s) {
  var data = s.dataset, relay = (data.relay || new URL(s.src).origin).replace(/\/$/, '');
  var host = d.createElement('div'), root = host.attachShadow({ mode: 'open' });
  var css = d.createElement('link'), button = d.createElement('button');
  var queue = [].slice.call((w.ChatWidget && w.ChatWidget.q) || []), wantOpen = false, loading;
  // A link from one of our emails: #chat-resume=TOKEN reopens that conversation here.
  var resume = /[#&]chat-resume=([^&]+)/.exec(location.hash), site = data.site;
  resume = resume && decodeURIComponent(resume[1]);
  if (resume) { wantOpen = true; site = site || resume.split('.')[1]; }
  // Whether the panel should be open, after each call in the order made: the widget mounts
  // that way, and the other calls are replayed to it in their order.
  var opens = /^(open|close|toggle)$/;
  function track(c) { wantOpen = c == 'toggle' ? !wantOpen : c == 'open' || (wantOpen && !/^(close|shutdown)$/.test(c)); }
  // The widget speaks English; another language's words come as a bundle, fetched alongside
  // it. LAUNCHER_LABELS is put here by scripts/build from widget/locales/: each language with
  // a bundle, and its launcher's label, so the launcher speaks it before the widget loads.
  // The first subtag decides.
  var lang = (data.lang || navigator.language || '').split(/[-_]/)[0].toLowerCase();
  var labels = LAUNCHER_LABELS, bundled = {}.hasOwnProperty.call(labels, lang), failures = 0;
  function load() {
    if (loading) return loading;
    if (view) fit();
    // Without the bundle (no network, or none within 3 s: the chat matters more than its
    // language) the widget is English.
    var words = bundled && Promise.race([
      fetch(relay + '/widget/locales/' + lang + '.json').then(function (r) { return r.json(); }),
      new Promise(function (done) { setTimeout(done, 3000); })
    ]).catch(function () {});
    // A retry asks for the glue under a new address: the browser keeps a failed import's
    // failure for the page's lifetime.
    return loading = import(relay + '/widget/widget.js' + (failures ? '?retry=' + failures : '')).then(function (m) {
      return Promise.all([m.default({ module_or_path: relay + '/widget/widget_bg.wasm' }), words]).then(function (r) {
        var widget = m.mount(root, { site: site, relay: relay, open: wantOpen, words: r[1], resume: resume, consent: data.consent });
        button.remove();
        w.ChatWidget = function (c, a, b) { widget.command(c, a, b); };
        queue.forEach(function (q) { if (!opens.test(q[0])) widget.command(q[0], q[1], q[2]); });
        // A `shutdown` replayed closes the panel; an `open` or a click after it opens it again.
        if (wantOpen) widget.command('open');
      });
    }).catch(function (e) {
      // The reason (offline, refused by the page's CSP...) is the browser's error.
      console.warn('ChatWidget: could not load from ' + relay, e);
      // Lost on the way (a phone in a tunnel): the launcher stays, and the next click tries
      // again. Once mounted, the widget is never loaded twice.
      if (button.isConnected) {
        loading = 0;
        failures++;
        button.removeAttribute('aria-busy');
      }
    });
  }
  w.ChatWidget = function () {
    queue.push(arguments);
    track(arguments[0]);
    if (wantOpen) load();
  };
  queue.forEach(function (q) { track(q[0]); });
  host.id = 'chat-widget';
  css.rel = 'stylesheet';
  css.href = relay + '/widget/style.css';
  button.className = 'cw-launcher cw-boot';
  // The site's side and colour, as the widget last saw them here: the launcher does not jump.
  try {
    var look = JSON.parse(localStorage.getItem('chat-widget:' + site + ':look')).split(' ');
    if (look[0] == 'left') button.className += ' cw-boot-left';
    if (/^#[0-9a-f]{6}$/i.test(look[1])) button.style.setProperty('--cw-accent', look[1]);
  } catch (e) {}
  button.type = 'button';
  button.setAttribute('aria-label', bundled ? labels[lang] : 'Open chat');
  if (bundled) button.lang = lang;
  button.onclick = function () { wantOpen = true; button.setAttribute('aria-busy', 'true'); load(); };
  root.append(css, button);
  if (!site) return;
  // Phones: an on-screen keyboard shrinks only the part of the page in view (the visual
  // viewport), so the full-screen panel would sit half under it, its header panned out of
  // sight. The panel's stylesheet places it on that part instead, unless the visitor has
  // zoomed in: then the page is theirs to pan.
  var view = w.visualViewport;
  function fit() {
    var zoomed = view.scale > 1.01;
    host.style.setProperty('--cw-view-top', zoomed ? '' : view.offsetTop + 'px');
    host.style.setProperty('--cw-view-height', zoomed ? '' : view.height + 'px');
  }
  // Not measured now but when the widget loads: reading the visual viewport forces the page's
  // first layout into this script (up to 90 ms in a cold browser here), and until a keyboard
  // opens the stylesheet's own values are the same.
  if (view) { view.addEventListener('resize', fit); view.addEventListener('scroll', fit); }
  (d.body ? d.body.append(host) : d.addEventListener('DOMContentLoaded', function () { d.body.append(host); }));
  wantOpen ? load() : (w.requestIdleCallback || setTimeout)(load);
})(window, document, document.currentScript);
