/* report.c -- `herd report`: one self-contained HTML file about a family.
 *
 * The data (columns of the family's groups, its alias history, its runs)
 * are embedded as one JSON block; inline JavaScript draws inline SVG from
 * them (decision counts per run, champion-vs-challenger metric scatter,
 * distribution of metric deltas, alias history timeline) and a searchable,
 * paged table of groups.  Nothing is fetched: no script, font or style
 * comes from anywhere else.  At 50,000 groups the scatter draws a fixed,
 * evenly spread subset of points (it says how many), and the table shows
 * one page at a time, so the page stays quick (docs/cli.md, "Report"). */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char *cell_str(const herd_frame *f, const char *col, size_t row)
{
    size_t c;
    const char *s = NULL;
    if (!herd_frame_find(f, col, &c)) herd_frame_get_string(f, c, row, &s);
    return s;
}

static double cell_num(const herd_frame *f, const char *col, size_t row)
{
    size_t c;
    double v = NAN;
    if (!herd_frame_find(f, col, &c)) herd_frame_get_double(f, c, row, &v);
    return v;
}

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* The champion alias's version from "champion=3,challenger=4". */
static double champion_of(const char *aliases)
{
    const char *p = aliases ? strstr(aliases, "champion=") : NULL;
    while (p && p != aliases && p[-1] != ',') p = strstr(p + 1, "champion=");
    return p ? atof(p + 9) : NAN;
}

/* Per group (by its row in the groups frame): its latest champion move,
 * from the alias history and the move's details. */
typedef struct rep_group {
    const char *kind;   /* "first", "promote", "copied", "by hand" */
    const char *reason; /* as recorded */
    const char *time;
    double champion_metric, challenger_metric, delta; /* NaN: not recorded */
} rep_group;

/* Group keys sorted bytewise, for finding a history row's group (the
 * registry orders keys by value, integers numerically, so its order is
 * not strcmp's). */
typedef struct rep_key {
    const char *key;
    size_t row;
} rep_key;

static int rep_key_cmp(const void *a, const void *b)
{
    return strcmp(((const rep_key *)a)->key, ((const rep_key *)b)->key);
}

static rep_key *rep_keys(const herd_frame *groups)
{
    size_t n = herd_frame_row_count(groups);
    rep_key *k = calloc(n ? n : 1, sizeof *k);
    for (size_t i = 0; k && i < n; i++) {
        const char *s = cell_str(groups, "group", i);
        k[i] = (rep_key){s ? s : "", i};
    }
    if (k) qsort(k, n, sizeof *k, rep_key_cmp);
    return k;
}

static size_t find_group(const rep_key *keys, size_t n, const char *key)
{
    rep_key want = {key, 0};
    const rep_key *hit = bsearch(&want, keys, n, sizeof *keys, rep_key_cmp);
    return hit ? hit->row : (size_t)-1;
}

/* This family's versions per run id, as {"run": count}. */
static int rep_run_versions(herd_registry *reg, const char *family, cJSON *root)
{
    herd_search_options so;
    herd_search_options_init(&so, HERD_SEARCH_OPTIONS_VERSION);
    so.family = family;
    so.include_archived = 1;
    herd_frame *v = NULL;
    if (herd_registry_search(reg, &so, &v)) return -1;
    cJSON *counts = cJSON_AddObjectToObject(root, "run_versions");
    for (size_t r = 0; counts && r < herd_frame_row_count(v); r++) {
        const char *run = cell_str(v, "run_id", r);
        if (!run) continue;
        cJSON *c = cJSON_GetObjectItemCaseSensitive(counts, run);
        if (c) cJSON_SetNumberValue(c, c->valuedouble + 1);
        else cJSON_AddNumberToObject(counts, run, 1);
    }
    herd_frame_free(v);
    return counts ? 0 : -1;
}

static int rep_data(herd_registry *reg, const char *family, cJSON *root, char *err, size_t n)
{
    herd_frame *groups = NULL, *hist = NULL, *runs = NULL;
    if (herd_registry_groups(reg, family, &groups) ||
        herd_registry_alias_history(reg, family, NULL, "champion", &hist) ||
        herd_registry_runs(reg, &runs)) {
        snprintf(err, n, "%s", herd_last_error());
        herd_frame_free(groups);
        herd_frame_free(hist);
        return -1;
    }
    size_t ng = herd_frame_row_count(groups), nh = herd_frame_row_count(hist);
    if (!ng) {
        snprintf(err, n, "family '%s' has no groups in %s", family, herd_registry_path(reg));
        herd_frame_free(groups);
        herd_frame_free(hist);
        herd_frame_free(runs);
        return -1;
    }
    rep_group *rg = calloc(ng, sizeof *rg);
    rep_key *keys = rep_keys(groups);
    if (!keys) {
        free(rg);
        rg = NULL;
    }
    for (size_t i = 0; rg && i < ng; i++)
        rg[i].champion_metric = rg[i].challenger_metric = rg[i].delta = NAN;
    cJSON *moves = cJSON_AddArrayToObject(root, "moves"); /* [time, kind, run] */
    for (size_t r = 0; rg && r < nh; r++) {
        const char *key = cell_str(hist, "group", r), *reason = cell_str(hist, "reason", r);
        const char *time = cell_str(hist, "time", r), *run = cell_str(hist, "run_id", r);
        const char *details = cell_str(hist, "details", r);
        cJSON *d = details ? cJSON_Parse(details) : NULL;
        /* The kind of move: the comparison's decision, a copy from another
         * registry, or a move by hand (a rollback). */
        const cJSON *decision = cJSON_GetObjectItem(d, "decision");
        cJSON *m = cJSON_CreateArray();
        cJSON_AddItemToArray(m, cJSON_CreateString(time ? time : ""));
        cJSON_AddItemToArray(m, cJSON_CreateString(cJSON_IsString(decision) ? decision->valuestring
                                                   : cJSON_GetObjectItem(d, "source") ? "copied"
                                                                                      : "by hand"));
        cJSON_AddItemToArray(m, cJSON_CreateString(run ? run : ""));
        cJSON_AddItemToArray(moves, m);
        size_t g = key ? find_group(keys, ng, key) : (size_t)-1;
        if (g != (size_t)-1) {
            rg[g].kind = cJSON_GetArrayItem(m, 1)->valuestring; /* lives in root */
            rg[g].reason = reason;
            rg[g].time = time;
            const cJSON *cm = cJSON_GetObjectItem(d, "champion_metric");
            const cJSON *hm = cJSON_GetObjectItem(d, "challenger_metric");
            const cJSON *dl = cJSON_GetObjectItem(d, "delta");
            rg[g].champion_metric = cJSON_IsNumber(cm) ? cm->valuedouble : NAN;
            rg[g].challenger_metric = cJSON_IsNumber(hm) ? hm->valuedouble : NAN;
            rg[g].delta = cJSON_IsNumber(dl) ? dl->valuedouble : NAN;
        }
        const cJSON *metric = cJSON_GetObjectItem(d, "metric");
        if (cJSON_IsString(metric) && !cJSON_GetObjectItem(root, "metric"))
            cJSON_AddStringToObject(root, "metric", metric->valuestring);
        cJSON_Delete(d);
    }
    cJSON *cols = cJSON_AddObjectToObject(root, "groups");
    cJSON *key = cJSON_AddArrayToObject(cols, "group"), *ver = cJSON_AddArrayToObject(cols, "versions");
    cJSON *champ = cJSON_AddArrayToObject(cols, "champion");
    cJSON *kind = cJSON_AddArrayToObject(cols, "kind");
    cJSON *dec = cJSON_AddArrayToObject(cols, "reason"), *when = cJSON_AddArrayToObject(cols, "moved");
    cJSON *cm = cJSON_AddArrayToObject(cols, "champion_metric");
    cJSON *hm = cJSON_AddArrayToObject(cols, "challenger_metric");
    cJSON *dl = cJSON_AddArrayToObject(cols, "delta");
    for (size_t i = 0; rg && i < ng; i++) {
        cJSON_AddItemToArray(key, cJSON_CreateString(cell_str(groups, "group", i)));
        cJSON_AddItemToArray(ver, num_or_null(cell_num(groups, "versions", i)));
        cJSON_AddItemToArray(champ, num_or_null(champion_of(cell_str(groups, "aliases", i))));
        cJSON_AddItemToArray(kind, cJSON_CreateString(rg[i].kind ? rg[i].kind : ""));
        cJSON_AddItemToArray(dec, cJSON_CreateString(rg[i].reason ? rg[i].reason : ""));
        cJSON_AddItemToArray(when, cJSON_CreateString(rg[i].time ? rg[i].time : ""));
        cJSON_AddItemToArray(cm, num_or_null(rg[i].champion_metric));
        cJSON_AddItemToArray(hm, num_or_null(rg[i].challenger_metric));
        cJSON_AddItemToArray(dl, num_or_null(rg[i].delta));
    }
    /* Runs: id, time, and versions this family's groups got from each. */
    cJSON *rj = cJSON_AddArrayToObject(root, "runs");
    for (size_t r = 0; r < herd_frame_row_count(runs); r++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "run_id", cell_str(runs, "run_id", r));
        cJSON_AddStringToObject(o, "time", cell_str(runs, "time", r) ? cell_str(runs, "time", r) : "");
        cJSON_AddItemToObject(o, "versions", num_or_null(cell_num(runs, "versions", r)));
        cJSON_AddItemToArray(rj, o);
    }
    free(rg);
    free(keys);
    herd_frame_free(groups);
    herd_frame_free(hist);
    herd_frame_free(runs);
    if (!rg) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    if (rep_run_versions(reg, family, root)) {
        snprintf(err, n, "%s", herd_last_error());
        return -1;
    }
    return 0;
}

/* The page: styles, the SVG-drawing script and the table, all inline. */
static const char *const rep_head =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>herd report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}\n"
    ".meta{color:#666;margin-bottom:16px}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}\n"
    ".card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px}\n"
    "svg{display:block;width:100%;height:auto}\n"
    "svg text{font-size:11px;fill:#444}\n"
    "table{border-collapse:collapse;width:100%;font-size:13px}\n"
    "th,td{border-bottom:1px solid #eee;padding:3px 6px;text-align:left}\n"
    "th{background:#f0f0f0;position:sticky;top:0}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "#search{width:320px;padding:4px;margin-bottom:8px}\n"
    ".pager button{margin:0 4px}\n"
    "</style></head><body>\n"
    "<h1 id=\"title\">herd report</h1><div class=\"meta\" id=\"meta\"></div>\n"
    "<div class=\"grid\">\n"
    "<div class=\"card\"><h2>Decisions per run</h2><svg id=\"decisions\" "
    "viewBox=\"0 0 480 260\"></svg></div>\n"
    "<div class=\"card\"><h2>Champion vs challenger (<span class=\"metric\"></span>)</h2>"
    "<svg id=\"scatter\" viewBox=\"0 0 480 320\"></svg><div id=\"scatter-note\" "
    "class=\"meta\"></div></div>\n"
    "<div class=\"card\"><h2>Distribution of metric deltas (improvement &gt; 0)</h2>"
    "<svg id=\"deltas\" viewBox=\"0 0 480 260\"></svg></div>\n"
    "<div class=\"card\"><h2>Alias history (champion moves over time)</h2>"
    "<svg id=\"timeline\" viewBox=\"0 0 480 260\"></svg></div>\n"
    "</div>\n<div class=\"card\" style=\"margin-top:16px\"><h2>Groups</h2>\n"
    "<input id=\"search\" type=\"search\" placeholder=\"search groups, decisions...\">\n"
    "<span id=\"count\"></span>\n<div class=\"pager\"><button id=\"prev\">&lt;</button>"
    "<span id=\"page\"></span><button id=\"next\">&gt;</button></div>\n"
    "<table id=\"groups\"><thead><tr><th>group</th><th>versions</th><th>champion</th>"
    "<th>last move</th><th>reason</th><th>when</th><th>champion metric</th>"
    "<th>challenger metric</th>"
    "<th>delta</th></tr></thead><tbody></tbody></table></div>\n"
    "<script type=\"application/json\" id=\"data\">";

static const char *const rep_tail =
    "</script>\n<script>\n"
    "'use strict';\n"
    "const D = JSON.parse(document.getElementById('data').textContent);\n"
    "const G = D.groups, N = G.group.length, NS = 'http://www.w3.org/2000/svg';\n"
    "const COLORS = {first: '#1971c2', promote: '#2b8a3e', copied: '#862e9c',\n"
    "                'by hand': '#e8590c', 'not promoted': '#ced4da'};\n"
    "function el(parent, tag, attrs, text) {\n"
    "  const e = document.createElementNS(NS, tag);\n"
    "  for (const k in attrs) e.setAttribute(k, attrs[k]);\n"
    "  if (text !== undefined) e.textContent = text;\n"
    "  parent.appendChild(e);\n"
    "  return e;\n"
    "}\n"
    "function tip(e, text) { el(e, 'title', {}, text); return e; }\n"
    "function fmt(v) {\n"
    "  if (typeof v !== 'number') return v === null || v === undefined ? '' : String(v);\n"
    "  return Math.abs(v) >= 1e5 || (Math.abs(v) < 0.001 && v !== 0) ? v.toExponential(3)\n"
    "         : (+v.toFixed(4)).toString();\n"
    "}\n"
    "function axes(s, x0, x1, y0, y1, W, H, m) {\n"
    "  el(s, 'line', {x1: m, y1: H - m, x2: W - 10, y2: H - m, stroke: '#888'});\n"
    "  el(s, 'line', {x1: m, y1: 10, x2: m, y2: H - m, stroke: '#888'});\n"
    "  el(s, 'text', {x: m, y: H - m + 14}, fmt(x0));\n"
    "  el(s, 'text', {x: W - 10, y: H - m + 14, 'text-anchor': 'end'}, fmt(x1));\n"
    "  el(s, 'text', {x: m - 4, y: H - m, 'text-anchor': 'end'}, fmt(y0));\n"
    "  el(s, 'text', {x: m - 4, y: 16, 'text-anchor': 'end'}, fmt(y1));\n"
    "}\n"
    "function legend(s, kinds, W) {\n"
    "  kinds.forEach((k, j) => {\n"
    "    el(s, 'rect', {x: W - 120, y: 12 + j * 14, width: 10, height: 10, fill: COLORS[k] || '#999'});\n"
    "    el(s, 'text', {x: W - 106, y: 21 + j * 14}, k);\n"
    "  });\n"
    "}\n"
    "document.getElementById('title').textContent = 'herd report: family ' + D.family;\n"
    "document.getElementById('meta').textContent = N + ' groups, ' + D.moves.length +\n"
    "  ' champion moves, ' + Object.keys(D.run_versions).length + ' runs; registry ' + D.registry +\n"
    "  '; generated ' + D.generated + ' by herd ' + D.herd_version;\n"
    "for (const e of document.querySelectorAll('.metric')) e.textContent = D.metric || 'metric';\n"
    "// Decisions per run: the champion moves of each run by kind, and the\n"
    "// run's versions that did not become champion.\n"
    "(function () {\n"
    "  const s = document.getElementById('decisions'), W = 480, H = 260, m = 40;\n"
    "  const by = {}, order = [];\n"
    "  for (const mv of D.moves) {\n"
    "    const r = mv[2] || '(no run)';\n"
    "    if (!(r in by)) { by[r] = {}; order.push(r); }\n"
    "    by[r][mv[1]] = (by[r][mv[1]] || 0) + 1;\n"
    "  }\n"
    "  for (const r in D.run_versions) {\n"
    "    if (!(r in by)) { by[r] = {}; order.push(r); }\n"
    "    const moved = (by[r].first || 0) + (by[r].promote || 0);\n"
    "    by[r]['not promoted'] = Math.max(0, D.run_versions[r] - moved);\n"
    "  }\n"
    "  const kinds = Object.keys(COLORS).filter(k => order.some(r => by[r][k]));\n"
    "  let max = 1;\n"
    "  for (const r of order) { let t = 0; for (const k in by[r]) t += by[r][k]; max = Math.max(max, t); }\n"
    "  const bw = Math.max(4, Math.min(60, (W - m - 140) / Math.max(1, order.length) - 6));\n"
    "  order.forEach((r, i) => {\n"
    "    let y = H - m;\n"
    "    const x = m + 6 + i * (bw + 6);\n"
    "    for (const k of kinds) {\n"
    "      const v = by[r][k] || 0, h = (H - m - 20) * v / max;\n"
    "      if (v) tip(el(s, 'rect', {x: x, y: y - h, width: bw, height: h, fill: COLORS[k],\n"
    "                                class: 'bar'}), r + ': ' + k + ' ' + v);\n"
    "      y -= h;\n"
    "    }\n"
    "    el(s, 'text', {x: x + bw / 2, y: H - m + 14, 'text-anchor': 'middle'},\n"
    "       r.length > 10 ? r.slice(0, 9) + '\\u2026' : r);\n"
    "  });\n"
    "  axes(s, '', '', 0, max, W, H, m);\n"
    "  legend(s, kinds, W);\n"
    "})();\n"
    "// Champion vs challenger: one point per group whose last move compared\n"
    "// the two (at most 5000, evenly spread).\n"
    "(function () {\n"
    "  const s = document.getElementById('scatter'), W = 480, H = 320, m = 50, idx = [];\n"
    "  for (let i = 0; i < N; i++)\n"
    "    if (G.champion_metric[i] !== null && G.challenger_metric[i] !== null) idx.push(i);\n"
    "  const step = Math.max(1, Math.ceil(idx.length / 5000));\n"
    "  let lo = Infinity, hi = -Infinity;\n"
    "  for (const i of idx) {\n"
    "    lo = Math.min(lo, G.champion_metric[i], G.challenger_metric[i]);\n"
    "    hi = Math.max(hi, G.champion_metric[i], G.challenger_metric[i]);\n"
    "  }\n"
    "  if (!idx.length) { lo = 0; hi = 1; }\n"
    "  if (hi === lo) hi = lo + 1;\n"
    "  const sx = v => m + (W - m - 10) * (v - lo) / (hi - lo);\n"
    "  const sy = v => H - m - (H - m - 10) * (v - lo) / (hi - lo);\n"
    "  axes(s, lo, hi, lo, hi, W, H, m);\n"
    "  el(s, 'line', {x1: sx(lo), y1: sy(lo), x2: sx(hi), y2: sy(hi), stroke: '#bbb',\n"
    "                 'stroke-dasharray': '4 3'});\n"
    "  el(s, 'text', {x: W / 2, y: H - 8, 'text-anchor': 'middle'}, 'champion ' + (D.metric || ''));\n"
    "  el(s, 'text', {x: 12, y: H / 2, transform: 'rotate(-90 12 ' + H / 2 + ')',\n"
    "                 'text-anchor': 'middle'}, 'challenger');\n"
    "  const g = el(s, 'g', {class: 'points'});\n"
    "  let shown = 0;\n"
    "  for (let k = 0; k < idx.length; k += step) {\n"
    "    const i = idx[k];\n"
    "    shown++;\n"
    "    el(g, 'circle', {cx: sx(G.champion_metric[i]).toFixed(1), cy: sy(G.challenger_metric[i]).toFixed(1),\n"
    "                     r: 2.5, fill: COLORS[G.kind[i]] || '#1971c2', 'fill-opacity': 0.6});\n"
    "  }\n"
    "  document.getElementById('scatter-note').textContent = shown + ' of ' + idx.length +\n"
    "    ' groups with both metrics shown' + (step > 1 ? ' (every ' + step + 'th)' : '') +\n"
    "    '; for a loss, the challenger is better below the diagonal';\n"
    "})();\n"
    "// Distribution of the deltas (improvement > 0), 40 bins.\n"
    "(function () {\n"
    "  const s = document.getElementById('deltas'), W = 480, H = 260, m = 40, B = 40, v = [];\n"
    "  for (let i = 0; i < N; i++) if (G.delta[i] !== null) v.push(G.delta[i]);\n"
    "  let lo = v.length ? v[0] : 0, hi = lo;\n"
    "  for (const x of v) { if (x < lo) lo = x; if (x > hi) hi = x; }\n"
    "  if (hi === lo) hi = lo + 1;\n"
    "  const c = new Array(B).fill(0);\n"
    "  for (const x of v) c[Math.min(B - 1, Math.floor(B * (x - lo) / (hi - lo)))]++;\n"
    "  let max = 1;\n"
    "  for (const n of c) max = Math.max(max, n);\n"
    "  const bw = (W - m - 10) / B;\n"
    "  c.forEach((n, i) => {\n"
    "    const h = (H - m - 20) * n / max, mid = lo + (i + 0.5) * (hi - lo) / B;\n"
    "    tip(el(s, 'rect', {x: m + i * bw, y: H - m - h, width: Math.max(1, bw - 1), height: h,\n"
    "                       fill: mid > 0 ? '#2b8a3e' : '#adb5bd', class: 'bar'}),\n"
    "        n + ' groups around ' + fmt(mid));\n"
    "  });\n"
    "  axes(s, lo, hi, 0, max, W, H, m);\n"
    "  el(s, 'text', {x: W / 2, y: H - 8, 'text-anchor': 'middle'}, v.length + ' groups with a delta');\n"
    "})();\n"
    "// Alias history: champion moves over time, 60 bins, stacked by kind.\n"
    "(function () {\n"
    "  const s = document.getElementById('timeline'), W = 480, H = 260, m = 40, B = 60;\n"
    "  const t = D.moves.map(mv => Date.parse(mv[0]));\n"
    "  let t0 = Infinity, t1 = -Infinity;\n"
    "  for (const x of t) { if (x < t0) t0 = x; if (x > t1) t1 = x; }\n"
    "  if (!t.length) { t0 = 0; t1 = 1; }\n"
    "  if (t1 === t0) t1 = t0 + 1000;\n"
    "  const bins = [];\n"
    "  for (let i = 0; i < B; i++) bins.push({});\n"
    "  D.moves.forEach((mv, i) => {\n"
    "    const b = Math.min(B - 1, Math.floor(B * (t[i] - t0) / (t1 - t0)));\n"
    "    bins[b][mv[1]] = (bins[b][mv[1]] || 0) + 1;\n"
    "  });\n"
    "  const kinds = Object.keys(COLORS).filter(k => bins.some(b => b[k]));\n"
    "  let max = 1;\n"
    "  for (const b of bins) { let n = 0; for (const k in b) n += b[k]; max = Math.max(max, n); }\n"
    "  const bw = (W - m - 140) / B;\n"
    "  bins.forEach((b, i) => {\n"
    "    let y = H - m;\n"
    "    for (const k of kinds) {\n"
    "      const h = (H - m - 20) * (b[k] || 0) / max;\n"
    "      if (b[k]) tip(el(s, 'rect', {x: m + i * bw, y: y - h, width: Math.max(1, bw - 0.5), height: h,\n"
    "                                   fill: COLORS[k], class: 'bar'}),\n"
    "                    new Date(t0 + (i + 0.5) * (t1 - t0) / B).toISOString() + ': ' + k + ' ' + b[k]);\n"
    "      y -= h;\n"
    "    }\n"
    "  });\n"
    "  axes(s, new Date(t0).toISOString().slice(0, 16), new Date(t1).toISOString().slice(0, 16),\n"
    "       0, max, W - 130, H, m);\n"
    "  legend(s, kinds, W);\n"
    "})();\n"
    "// The table: a search over key, move and reason; 100 rows a page.\n"
    "(function () {\n"
    "  const q = document.getElementById('search'), tb = document.querySelector('#groups tbody');\n"
    "  const P = 100, hay = new Array(N);\n"
    "  let rows = [...Array(N).keys()], page = 0;\n"
    "  for (let i = 0; i < N; i++) hay[i] = (G.group[i] + '\\u0001' + G.kind[i] + '\\u0001' +\n"
    "                                        G.reason[i]).toLowerCase();\n"
    "  function draw() {\n"
    "    const pages = Math.max(1, Math.ceil(rows.length / P));\n"
    "    page = Math.max(0, Math.min(page, pages - 1));\n"
    "    const f = document.createDocumentFragment();\n"
    "    for (const i of rows.slice(page * P, page * P + P)) {\n"
    "      const tr = document.createElement('tr');\n"
    "      [G.group[i], G.versions[i], G.champion[i], G.kind[i], G.reason[i], G.moved[i],\n"
    "       fmt(G.champion_metric[i]), fmt(G.challenger_metric[i]), fmt(G.delta[i])].forEach((v, j) => {\n"
    "        const td = document.createElement('td');\n"
    "        if (j === 1 || j === 2 || j > 5) td.className = 'n';\n"
    "        td.textContent = v === null ? '' : v;\n"
    "        tr.appendChild(td);\n"
    "      });\n"
    "      f.appendChild(tr);\n"
    "    }\n"
    "    tb.replaceChildren(f);\n"
    "    document.getElementById('count').textContent = rows.length + ' of ' + N + ' groups';\n"
    "    document.getElementById('page').textContent = 'page ' + (page + 1) + ' of ' + pages;\n"
    "  }\n"
    "  q.addEventListener('input', () => {\n"
    "    const s = q.value.trim().toLowerCase();\n"
    "    rows = [];\n"
    "    for (let i = 0; i < N; i++) if (!s || hay[i].includes(s)) rows.push(i);\n"
    "    page = 0;\n"
    "    draw();\n"
    "  });\n"
    "  document.getElementById('prev').onclick = () => { page--; draw(); };\n"
    "  document.getElementById('next').onclick = () => { page++; draw(); };\n"
    "  draw();\n"
    "})();\n"
    "</script></body></html>\n";

/* JSON inside <script>: "</" would end the element; "<\/" is the same JSON. */
static int write_json_for_script(FILE *f, const char *json)
{
    for (const char *p = json; *p; p++) {
        if (p[0] == '<' && p[1] == '/') {
            if (fputs("<\\/", f) < 0) return -1;
            p++;
        } else if (fputc(*p, f) == EOF) {
            return -1;
        }
    }
    return 0;
}

int cli_report_write(herd_registry *reg, const char *family, const char *path, char *err,
                     size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    cJSON_AddStringToObject(root, "family", family);
    cJSON_AddStringToObject(root, "registry", herd_registry_path(reg));
    cJSON_AddStringToObject(root, "herd_version", herd_version_string());
    time_t now = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    cJSON_AddStringToObject(root, "generated", stamp);
    if (rep_data(reg, family, root, err, errlen)) {
        cJSON_Delete(root);
        return -1;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int bad = !f || fputs(rep_head, f) < 0 || write_json_for_script(f, json) ||
              fputs(rep_tail, f) < 0;
    if (f && fclose(f)) bad = 1;
    free(json);
    if (bad || rename(tmp, path)) {
        snprintf(err, errlen, "%s: cannot write the report: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
