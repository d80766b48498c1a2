// Progressive enhancement: lists and results that refresh themselves, and relative times that
// stay current. Without JavaScript every page still works (reload to refresh).
(function () {
  'use strict';
  function ago(iso) {
    var seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    var abs = Math.abs(seconds);
    if (abs < 10) return 'just now';
    var v = abs < 60 ? abs + ' s' : abs < 3600 ? Math.round(abs / 60) + ' min' : abs < 86400 ? Math.round(abs / 3600) + ' h' : Math.round(abs / 86400) + ' d';
    return seconds >= 0 ? v + ' ago' : 'in ' + v;
  }
  function updateTimes(root) {
    root.querySelectorAll('time[datetime]').forEach(function (el) { el.textContent = ago(el.getAttribute('datetime')); });
  }
  function refresh(el) {
    var url = el.getAttribute('data-refresh');
    if (!url) return;
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        el.innerHTML = html;
        updateTimes(el);
        if (el.querySelector('[data-done]')) el.removeAttribute('data-refresh');
      })
      .catch(function () {});
  }
  document.addEventListener('DOMContentLoaded', function () {
    setInterval(function () {
      document.querySelectorAll('[data-refresh]').forEach(refresh);
      updateTimes(document);
    }, 3000);
  });
})();
