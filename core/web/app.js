// Dashboard for the motion cam: SSE for motion events, a WebSocket for
// commands (seed chapters "Pushing events to the dashboard" and "Two-way
// control with WebSockets"). A `?token=` on the page is passed on to both.
const token = new URLSearchParams(location.search).get('token');
const withToken = (path) => token ? path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : path;
const $ = (id) => document.getElementById(id);
const setState = (id, text, up) => { const el = $(id); el.textContent = text; el.className = up ? 'up' : 'down'; };

// Motion events, newest first.
const source = new EventSource(withToken('/events'));
source.addEventListener('open', () => setState('sse-state', 'connected', true));
source.addEventListener('error', () => setState('sse-state', 'reconnecting', false));
source.addEventListener('motion', (e) => {
  const data = JSON.parse(e.data);
  const li = document.createElement('li');
  const when = new Date(data.ts * 1000).toLocaleTimeString();
  li.innerHTML = '<span></span><span></span><span></span>';
  li.children[0].textContent = when;
  li.children[1].textContent = 'change ' + data.change.toFixed(3);
  li.children[2].textContent = '#' + data.count;
  $('events').prepend(li);
  $('count').textContent = data.count;
  refreshFrame();
});

// Commands and acks.
let ws;
const controls = ['snap-btn', 'reset-btn', 'threshold'];
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
    $('ack').textContent = 'cam: ' + e.data;
    if (typeof ack.threshold === 'number') {
      $('threshold').value = ack.threshold;
      $('threshold-value').textContent = ack.threshold.toFixed(2);
    }
    if (typeof ack.trigger_count === 'number') $('count').textContent = ack.trigger_count;
    if (ack.counters === 'reset') $('count').textContent = 0;
  });
}
connectControl();
$('snap-btn').addEventListener('click', () => ws.send(JSON.stringify({cmd: 'snapshot_now'})));
$('reset-btn').addEventListener('click', () => ws.send(JSON.stringify({cmd: 'reset'})));
$('threshold').addEventListener('input', (e) => { $('threshold-value').textContent = Number(e.target.value).toFixed(2); });
$('threshold').addEventListener('change', (e) => ws.send(JSON.stringify({cmd: 'set_threshold', value: Number(e.target.value)})));

// The latest frame.
function refreshFrame() { $('frame').src = withToken('/snapshot.jpg') + (token ? '&' : '?') + 't=' + Date.now(); }
setInterval(refreshFrame, 1000);
refreshFrame();
