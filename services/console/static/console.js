// Live inbox: notify's event stream (relayed by the console) triggers a refresh of the list.
document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const source = new EventSource("/stream");
  const refresh = () => {
    const list = document.getElementById("alert-list");
    // Keep the list as it is while someone types a comment in it.
    if (list && !list.contains(document.activeElement)) htmx.trigger(list, "refresh");
  };
  source.onopen = () => { live.dataset.state = "live"; live.textContent = "实时更新：已连接"; };
  source.addEventListener("new", refresh);
  source.addEventListener("changed", refresh);
  source.addEventListener("unavailable", () => { live.dataset.state = "down"; live.textContent = "实时更新：通知服务不可用，正在重连…"; });
  source.onerror = () => { live.dataset.state = "connecting"; live.textContent = "实时更新：重连中…"; };
});
