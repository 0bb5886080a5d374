// Checks the PromQL of deploy/monitoring against what a real server exports.
//
//   node monitoring_check.js DASHBOARD.json RULES.yaml SCRAPE.txt OUT_RULES.yaml
//
// Writes every dashboard expression (panels and variables) as a recording
// rule to OUT_RULES.yaml, for `promtool check rules` to parse the way
// Prometheus does. Then, for the dashboard's and the alert rules'
// expressions: every identifier that is not PromQL's (a function, an
// aggregation, a keyword, a grouping label) must be a metric family of the
// scrape (histograms with their _bucket, _sum and _count), every label a
// selector matches on must be one that metric carries (or job / instance,
// which Prometheus adds), and every grouping label one of the metrics' labels
// or le. Prints each problem and exits 1 when there is any.
'use strict';
const fs = require('fs');

const [dashboardPath, rulesPath, scrapePath, outRules] = process.argv.slice(2);
if (!outRules) {
  console.error('usage: monitoring_check.js DASHBOARD RULES SCRAPE OUT_RULES');
  process.exit(64);
}

// Metric name -> set of label names, from the text exposition format.
const families = new Map();
for (const line of fs.readFileSync(scrapePath, 'utf8').split('\n')) {
  let m = line.match(/^# TYPE (\S+) (\S+)/);
  if (m) {
    const names = m[2] === 'histogram'
      ? ['_bucket', '_sum', '_count'].map((s) => m[1] + s)
      : m[2] === 'summary' ? [m[1], m[1] + '_sum', m[1] + '_count'] : [m[1]];
    for (const n of names) if (!families.has(n)) families.set(n, new Set());
    continue;
  }
  m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /);
  if (!m) continue;
  if (!families.has(m[1])) families.set(m[1], new Set());
  for (const pair of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) {
    families.get(m[1]).add(pair[1]);
  }
}

// The dashboard's expressions, with Grafana's variables made PromQL.
const grafana = (e) => e.replace(/\$__rate_interval/g, '5m')
    .replace(/\$__interval/g, '1m').replace(/\$__range/g, '1h');
const dashboard = JSON.parse(fs.readFileSync(dashboardPath, 'utf8'));
const exprs = [];
for (const p of dashboard.panels || []) {
  for (const t of p.targets || []) {
    exprs.push({where: `panel "${p.title}" ${t.refId}`, expr: grafana(t.expr)});
  }
}
for (const v of (dashboard.templating || {}).list || []) {
  if (v.type !== 'query') continue;
  const q = typeof v.query === 'string' ? v.query : v.query.query;
  // label_values(METRIC, LABEL) is Grafana's; its metric is PromQL.
  const m = q.match(/^label_values\((.*),\s*([a-zA-Z_]+)\)$/);
  exprs.push({where: `variable ${v.name}`, expr: m ? m[1] : q, label: m && m[2]});
}
let out = 'groups:\n  - name: dashboard\n    rules:\n';
exprs.forEach((e, i) => {
  out += `      - record: dashboard_expr_${i}\n        expr: ${JSON.stringify(e.expr)}\n`;
});
fs.writeFileSync(outRules, out);

// The alert rules' expressions: `expr:` inline or as a block (|).
const ruleLines = fs.readFileSync(rulesPath, 'utf8').split('\n');
for (let i = 0; i < ruleLines.length; ++i) {
  const m = ruleLines[i].match(/^(\s*)expr:\s*(.*)$/);
  if (!m) continue;
  let expr = m[2];
  if (expr === '|' || expr === '>') {
    expr = '';
    while (i + 1 < ruleLines.length &&
           (ruleLines[i + 1].trim() === '' ||
            ruleLines[i + 1].search(/\S/) > m[1].length)) {
      expr += ruleLines[++i].trim() + '\n';
    }
  }
  const alert = (ruleLines.slice(0, i).reverse()
      .find((l) => /^\s*- (alert|record):/.test(l)) || '').trim();
  exprs.push({where: `rule ${alert}`, expr});
}

const promql = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk',
  'quantile', 'count_values', 'group', 'by', 'without', 'on', 'ignoring',
  'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'histogram_quantile',
  'clamp_min', 'clamp_max', 'abs', 'absent', 'absent_over_time', 'vector',
  'scalar', 'time', 'changes', 'resets', 'avg_over_time', 'max_over_time',
  'min_over_time', 'sum_over_time', 'count_over_time', 'label_replace',
  'round', 'sort', 'sort_desc', 'inf', 'nan',
]);
const problems = [];
for (const {where, expr, label} of exprs) {
  const text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const named = new Set();
  // Selectors: NAME{matchers}; then bare names.
  for (const m of text.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    named.add(m[1]);
    for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) {
      const labels = families.get(m[1]);
      if (labels && !labels.has(l[1]) && l[1] !== 'job' && l[1] !== 'instance') {
        problems.push(`${where}: ${m[1]} has no label "${l[1]}"`);
      }
    }
  }
  const grouping = [];
  const bare = text.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ')
      .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
               (_, kw, ls) => {
                 grouping.push(...ls.split(',').map((s) => s.trim()).filter(Boolean));
                 return ' ';
               });
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (!promql.has(m[0]) && !/^[0-9.e]+$/.test(m[0])) named.add(m[0]);
  }
  for (const n of named) {
    if (!families.has(n)) problems.push(`${where}: the server exports no ${n}`);
  }
  const known = new Set(['job', 'instance', 'le']);
  for (const n of named) for (const l of families.get(n) || []) known.add(l);
  for (const l of grouping.concat(label ? [label] : [])) {
    if (!known.has(l)) problems.push(`${where}: no metric it names has label "${l}"`);
  }
  if (named.size === 0) problems.push(`${where}: names no metric: ${expr}`);
}
for (const p of problems) console.error('monitoring_check: ' + p);
console.log(`monitoring_check: ${exprs.length} expressions, ${families.size} series names scraped, ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
