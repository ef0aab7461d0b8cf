// Times in the viewer's zone, with UTC on hover (the page is rendered in UTC).
document.querySelectorAll("time[datetime]").forEach((el) => {
  const when = new Date(el.getAttribute("datetime"));
  if (Number.isNaN(when.getTime())) return;
  el.title = when.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  el.textContent = when.toLocaleString();
});
