// Dashboard for the motion cam: SSE for motion events, a WebSocket for
// commands (seed chapters "Pushing events to the dashboard" and "Two-way
// control with WebSockets"). A `?token=` on the page is passed on to both.
const token = new URLSearchParams(location.search).get('token');
const withToken = (path) => token ? path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : path;
const $ = (id) => document.getElementById(id);
const setState = (id, text, up) => { const el = $(id); el.textContent = text; el.className = up ? 'up' : 'down'; };
const MAX_EVENTS = 200;

// Motion events, newest first.
const source = new EventSource(withToken('/events'));
source.addEventListener('open', () => setState('sse-state', 'connected', true));
source.addEventListener('error', () => setState('sse-state', 'reconnecting', false));
source.addEventListener('motion', (e) => {
  const data = JSON.parse(e.data);
  const li = document.createElement('li');
  const when = new Date(data.ts * 1000).toLocaleTimeString();
  for (const text of [when, 'change ' + data.change.toFixed(3), 'frame ' + data.frame, '#' + data.count]) {
    const span = document.createElement('span');
    span.textContent = text;
    li.append(span);
  }
  $('events').prepend(li);
  while ($('events').children.length > MAX_EVENTS) $('events').lastChild.remove();
  $('count').textContent = data.count;
  refreshFrame();
});
// The cam rebooted (ids of a new boot, docs/protocol.md "Reboots"): its
// trigger count starts again, and events it had not sent are gone.
source.addEventListener('restart', (e) => {
  const data = JSON.parse(e.data);
  const li = document.createElement('li');
  li.className = 'restart';
  li.textContent = 'cam restarted (boot ' + data.boot + ')';
  $('events').prepend(li);
  $('count').textContent = 0;
  showAck('The cam restarted (boot ' + data.boot + '): the count starts again', false);
});
source.addEventListener('gap', (e) => {
  const data = JSON.parse(e.data);
  showAck('Missed events ' + data.missed_from + ' to ' + (data.first - 1) + ' while disconnected', false);
});

// The threshold slider is logarithmic: positions 0-100 span 0.0001 to 1,
// so the few cells of the default (0.003) and half the frame both have
// room; what it sends is rounded to two significant digits.
const sliderToThreshold = (p) => Number(Math.pow(10, -4 + (4 * p) / 100).toPrecision(2));
const thresholdToSlider = (t) => (t <= 0.0001 ? 0 : Math.round(((Math.log10(t) + 4) / 4) * 100));
const thresholdText = (t) => String(Number(t.toPrecision(2)));

// Commands and their acks.
let ws;
const controls = ['snap-btn', 'reset-btn', 'threshold'];
function showAck(text, ok) {
  const el = $('ack');
  el.textContent = text;
  el.className = ok ? 'ok' : 'bad';
}
function describeAck(ack) {
  if (ack.error) return ['Cam error: ' + ack.error, false];
  if (ack.ok === false) return ['Cam refused: ' + ack.reason, false];
  if (ack.saved) return ['Snapshot saved: ' + ack.saved, true];
  if (ack.counters === 'reset') return ['Counter reset', true];
  if (typeof ack.trigger_count === 'number') return ['Connected: ' + ack.trigger_count + ' triggers, ' + ack.frames + ' frames', true];
  if (typeof ack.threshold === 'number') return ['Threshold set to ' + thresholdText(ack.threshold), true];
  return [JSON.stringify(ack), true];
}
function connectControl() {
  const proto = location.protocol === 'https:' ? 'wss://' : 'ws://';
  ws = new WebSocket(proto + location.host + withToken('/control'));
  ws.addEventListener('open', () => {
    setState('ws-state', 'connected', true);
    controls.forEach((id) => $(id).disabled = false);
    ws.send(JSON.stringify({cmd: 'status'}));
  });
  ws.addEventListener('close', () => {
    setState('ws-state', 'reconnecting', false);
    controls.forEach((id) => $(id).disabled = true);
    setTimeout(connectControl, 2000);
  });
  ws.addEventListener('message', (e) => {
    const ack = JSON.parse(e.data);
    const [text, ok] = describeAck(ack);
    showAck(text, ok);
    if (typeof ack.threshold === 'number') {
      $('threshold').value = thresholdToSlider(ack.threshold);
      $('threshold-value').textContent = thresholdText(ack.threshold);
    }
    if (typeof ack.trigger_count === 'number') $('count').textContent = ack.trigger_count;
    if (ack.counters === 'reset') $('count').textContent = 0;
  });
}
connectControl();
$('snap-btn').addEventListener('click', () => ws.send(JSON.stringify({cmd: 'snapshot_now'})));
$('reset-btn').addEventListener('click', () => ws.send(JSON.stringify({cmd: 'reset'})));
$('threshold').addEventListener('input', (e) => {
  $('threshold-value').textContent = thresholdText(sliderToThreshold(Number(e.target.value)));
});
$('threshold').addEventListener('change', (e) => {
  ws.send(JSON.stringify({cmd: 'set_threshold', value: sliderToThreshold(Number(e.target.value))}));
});

// The latest frame, refreshed every second and on every event.
$('frame').addEventListener('load', () => { $('frame').hidden = false; $('no-frame').hidden = true; });
$('frame').addEventListener('error', () => { $('frame').hidden = true; $('no-frame').hidden = false; });
function refreshFrame() { $('frame').src = withToken('/snapshot.jpg') + (token ? '&' : '?') + 't=' + Date.now(); }
setInterval(refreshFrame, 1000);
refreshFrame();
