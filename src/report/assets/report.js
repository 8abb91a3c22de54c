// llmbench HTML report: reads the result documents embedded in #llmbench-data and draws the
// summary table and charts with Chart.js (embedded in the same file). Works offline.
// For tests, #status gets data-charts (charts drawn), data-nonempty (charts with painted pixels)
// and data-errors (script errors) once drawing is done.
(function () {
  'use strict';
  const status = document.getElementById('status');
  let errors = 0;
  window.addEventListener('error', function (e) {
    errors += 1;
    status.dataset.errors = String(errors);
    status.textContent = 'error: ' + (e.message || e);
  });

  const doc = JSON.parse(document.getElementById('llmbench-data').textContent);
  const runs = doc.runs || [];
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                   '#bcbd22', '#17becf'];
  const color = (i) => palette[i % palette.length];

  // ---- access helpers: tolerate results from llmbench and from `vllm bench serve` ----
  function get(obj, path) {
    let cur = obj;
    for (const key of path.split('.')) {
      if (cur === null || cur === undefined || typeof cur !== 'object' || !(key in cur)) return undefined;
      cur = cur[key];
    }
    return cur;
  }
  function first(obj, paths) {
    for (const p of paths) {
      const v = get(obj, p);
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  }
  function num(obj, paths) {
    const v = first(obj, Array.isArray(paths) ? paths : [paths]);
    return typeof v === 'number' && isFinite(v) ? v : undefined;
  }
  function label(run, i) {
    return first(run.result, ['label', 'llmbench.label']) || run.name || ('run ' + (i + 1));
  }
  function concurrency(run) {
    const c = num(run.result, ['llmbench.load.concurrency', 'max_concurrency']);
    return c ? c : undefined;
  }
  function scenario(run) {
    return first(run.result, ['llmbench.scenario', 'scenario']) || 'load';
  }
  // A time series in any of the shapes llmbench writes: {t:[], v:[]}, {t_s:[], value:[]}, [[t, v], ...],
  // or {points: [[t, v]...]} / {series: ...}.
  function points(series) {
    if (!series) return [];
    if (Array.isArray(series)) {
      return series.filter((p) => Array.isArray(p) && p.length >= 2 && p[0] !== null && p[1] !== null)
                 .map((p) => ({x: +p[0], y: +p[1]}));
    }
    if (typeof series !== 'object') return [];
    const t = series.t || series.t_s || series.time_s || series.times_s;
    const v = series.v || series.value || series.values;
    if (Array.isArray(t) && Array.isArray(v)) return t.map((x, k) => ({x: +x, y: +v[k]}));
    if (series.points) return points(series.points);
    if (series.series) return points(series.series);
    return [];
  }
  function fmt(v, digits) {
    return v === undefined ? 'n/a' : v.toFixed(digits);
  }
  function cdf(values) {
    const xs = values.filter((v) => typeof v === 'number' && isFinite(v)).sort((a, b) => a - b);
    const n = xs.length;
    if (n === 0) return [];
    const step = Math.max(1, Math.floor(n / 400));  // at most ~400 points per curve
    const out = [];
    for (let k = 0; k < n; k += step) out.push({x: xs[k], y: (k + 1) / n});
    out.push({x: xs[n - 1], y: 1});
    return out;
  }
  // A CDF: llmbench's own [[value_ms, fraction], ...] (llmbench.cdf.*), else built from the
  // per-request arrays of a detailed result (vLLM stores seconds there).
  function cdfOf(run, name, perRequestKey) {
    const own = get(run.result, 'llmbench.cdf.' + name);
    if (Array.isArray(own) && own.length) return points(own);
    const s = run.result[perRequestKey];
    if (!Array.isArray(s)) return [];
    return cdf([].concat(...s.map((r) => (Array.isArray(r) ? r : [r]))).map((x) => x * 1e3));
  }
  function telemetry(run) {
    return first(run.result, ['llmbench.telemetry', 'telemetry']) || {};
  }
  function serverSeries(run, name) {
    return points(get(telemetry(run), 'server.normalized.' + name));
  }
  function gpuMemorySeries(run) {
    const gpus = telemetry(run).gpu;
    if (!Array.isArray(gpus)) return [];
    return gpus.map((g, k) => ({
      name: (g.name || 'GPU') + ' ' + (g.index !== undefined ? g.index : k),
      data: points(g.memory_used_bytes).map((p) => ({x: p.x, y: p.y / 2 ** 30})),
    }));
  }
  // llmbench.time_series: output tokens per bucket of bucket_s seconds from the run start.
  function throughputSeries(run) {
    const ts = get(run.result, 'llmbench.time_series');
    if (!ts || !Array.isArray(ts.output_tokens) || !(ts.bucket_s > 0)) return [];
    return ts.output_tokens.map((v, k) => ({x: (k + 0.5) * ts.bucket_s, y: v / ts.bucket_s}));
  }

  // ---- summary table ----
  const columns = [
    ['Run', (r, i) => label(r, i)],
    ['Scenario', (r) => scenario(r)],
    ['Concurrency', (r) => fmt(concurrency(r), 0)],
    ['Completed', (r) => fmt(num(r.result, 'completed'), 0)],
    ['Failed', (r) => fmt(num(r.result, ['failed', 'llmbench.failed']), 0)],
    ['Req/s', (r) => fmt(num(r.result, 'request_throughput'), 2)],
    ['Output tok/s', (r) => fmt(num(r.result, 'output_throughput'), 1)],
    ['TTFT p50 ms', (r) => fmt(num(r.result, 'median_ttft_ms'), 1)],
    ['TTFT p99 ms', (r) => fmt(num(r.result, 'p99_ttft_ms'), 1)],
    ['TPOT mean ms', (r) => fmt(num(r.result, 'mean_tpot_ms'), 2)],
    ['ITL p99 ms', (r) => fmt(num(r.result, 'p99_itl_ms'), 2)],
    ['E2E p99 ms', (r) => fmt(num(r.result, 'p99_e2el_ms'), 1)],
    ['Peak KV cache', (r) => {
      const v = num(telemetry(r), ['server.normalized.kv_cache_usage.peak', 'server.kv_cache_usage.peak']);
      return v === undefined ? 'n/a' : (v * 100).toFixed(1) + '%';
    }],
  ];
  const table = document.getElementById('summary');
  const head = table.createTHead().insertRow();
  for (const [name] of columns) {
    const th = document.createElement('th');
    th.textContent = name;
    head.appendChild(th);
  }
  const body = table.createTBody();
  runs.forEach((run, i) => {
    const row = body.insertRow();
    for (const [, cell] of columns) row.insertCell().textContent = cell(run, i);
  });

  // ---- charts ----
  const chartsEl = document.getElementById('charts');
  let drawn = 0;
  const canvases = [];
  function chart(title, note, config) {
    const hasData = config.data.datasets.some((d) => d.data && d.data.length > 0);
    const box = document.createElement('section');
    box.className = 'chart';
    const h = document.createElement('h2');
    h.textContent = title;
    box.appendChild(h);
    if (note) {
      const p = document.createElement('p');
      p.className = 'note';
      p.textContent = note;
      box.appendChild(p);
    }
    chartsEl.appendChild(box);
    if (!hasData) {
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = 'No data for this chart in these results.';
      box.appendChild(p);
      return;
    }
    const canvas = document.createElement('canvas');
    canvas.width = 900;
    canvas.height = 360;
    box.appendChild(canvas);
    config.options = Object.assign({animation: false, responsive: false, parsing: true,
                                    plugins: {legend: {position: 'bottom'}}}, config.options || {});
    new Chart(canvas.getContext('2d'), config);
    canvases.push(canvas);
    drawn += 1;
  }
  const axis = (title, extra) => Object.assign({type: 'linear', title: {display: true, text: title}}, extra || {});
  const line = (name, data, i, extra) =>
      Object.assign({label: name, data: data, borderColor: color(i), backgroundColor: color(i), pointRadius: 0,
                     borderWidth: 1.5, showLine: true}, extra || {});

  const loadRuns = runs.filter((r) => concurrency(r) !== undefined || num(r.result, 'request_rate') !== undefined)
                       .filter((r) => scenario(r) !== 'single')
                       .sort((a, b) => (concurrency(a) || 0) - (concurrency(b) || 0));
  chart('Throughput versus latency', 'One point per run of the sweep (x: output tokens/s; y: TTFT and TPOT).', {
    type: 'scatter',
    data: {datasets: [
      line('TTFT p50 (ms)', loadRuns.map((r) => ({x: num(r.result, 'output_throughput'), y: num(r.result, 'median_ttft_ms')}))
                                    .filter((p) => p.x !== undefined && p.y !== undefined), 0, {pointRadius: 4}),
      line('TTFT p99 (ms)', loadRuns.map((r) => ({x: num(r.result, 'output_throughput'), y: num(r.result, 'p99_ttft_ms')}))
                                    .filter((p) => p.x !== undefined && p.y !== undefined), 1, {pointRadius: 4}),
      line('TPOT mean (ms)', loadRuns.map((r) => ({x: num(r.result, 'output_throughput'), y: num(r.result, 'mean_tpot_ms')}))
                                     .filter((p) => p.x !== undefined && p.y !== undefined), 2, {pointRadius: 4}),
    ]},
    options: {scales: {x: axis('output tokens/s'), y: axis('ms')}},
  });
  chart('TTFT distribution (CDF)', 'Time to first token of every request, from the actual send.', {
    type: 'scatter',
    data: {datasets: runs.map((r, i) => line(label(r, i), cdfOf(r, 'ttft_ms', 'ttfts'), i))},
    options: {scales: {x: axis('TTFT (ms)'), y: axis('fraction of requests', {min: 0, max: 1})}},
  });
  chart('Inter-token latency distribution (CDF)', 'Gaps between consecutive token-carrying stream events.', {
    type: 'scatter',
    data: {datasets: runs.map((r, i) => line(label(r, i), cdfOf(r, 'itl_ms', 'itls'), i))},
    options: {scales: {x: axis('ITL (ms)'), y: axis('fraction of gaps', {min: 0, max: 1})}},
  });
  chart('Output throughput over time', 'Output tokens per second, in one-second buckets from the run start.', {
    type: 'scatter',
    data: {datasets: runs.map((r, i) => line(label(r, i), throughputSeries(r), i))},
    options: {scales: {x: axis('time (s)'), y: axis('tokens/s', {min: 0})}},
  });
  chart('KV-cache usage over time', 'As the server reports it on /metrics (0-100%).', {
    type: 'scatter',
    data: {datasets: runs.map((r, i) => line(label(r, i), serverSeries(r, 'kv_cache_usage').map((p) => ({x: p.x, y: p.y * 100})), i))},
    options: {scales: {x: axis('time (s)'), y: axis('KV cache used (%)', {min: 0})}},
  });
  chart('Requests running and waiting', 'As the server reports them on /metrics.', {
    type: 'scatter',
    data: {datasets: [].concat(...runs.map((r, i) => [
      line(label(r, i) + ' running', serverSeries(r, 'requests_running'), i),
      line(label(r, i) + ' waiting', serverSeries(r, 'requests_waiting'), i, {borderDash: [5, 4]}),
    ]))},
    options: {scales: {x: axis('time (s)'), y: axis('requests', {min: 0})}},
  });
  chart('GPU memory over time', 'From NVML, per GPU, when the benchmark ran on a machine with one.', {
    type: 'scatter',
    data: {datasets: [].concat(...runs.map((r, i) => gpuMemorySeries(r).map((g) => line(label(r, i) + ' ' + g.name, g.data, i))))},
    options: {scales: {x: axis('time (s)'), y: axis('GiB used', {min: 0})}},
  });

  // Count charts whose canvas has painted pixels (the test checks that charts are not empty).
  let nonempty = 0;
  for (const c of canvases) {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let k = 3; k < data.length; k += 4 * 97) {
      if (data[k] !== 0) {
        nonempty += 1;
        break;
      }
    }
  }
  status.dataset.charts = String(drawn);
  status.dataset.nonempty = String(nonempty);
  status.dataset.errors = String(errors);
  status.dataset.done = '1';
  status.textContent = runs.length + ' runs, ' + drawn + ' charts';
})();
