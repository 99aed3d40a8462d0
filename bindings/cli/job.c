/* job.c -- the job file: JSON bytes into the options of a weekly cycle.
 *
 *   {"family": "demand", "data": "sales.csv", "keys": ["product"],
 *    "features": ["price", "promo"], "label": "demand",
 *    "params": {"max_depth": 4}, "rounds": 100, "fallback": true,
 *    "holdout": {"order_by": "week", "periods": 4},
 *    "thresholds": {"metric": "rmse", "min_rel_delta": 0.02},
 *    "bootstrap": {"resamples": 200, "confidence": 0.95, "seed": 7},
 *    "cap": {"max_promote_fraction": 0.5, "force": false},
 *    "targets": {"staging": {"registry": "reg-staging",
 *                            "overrides": {"rounds": 50}}}}
 *
 * Values go through the library's options by name (herd_options_set), so
 * a job file is checked by the same table as a flag or a C struct; every
 * error names the key path ("targets.prod.overrides.cap.force").  Unknown
 * keys are refused with the closest known one.  docs/cli.md, "Job files". */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

struct cli_job {
    char *data, *keys, *family, *registry, *run_id;
    herd_options *fit, *cycle;
    char **targets;
    size_t n_targets;
};

typedef struct cli_jerr {
    char *buf;
    size_t len;
    const char *name;
} cli_jerr;

static int cli_jfail(cli_jerr *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cli_jfail(cli_jerr *e, const char *path, const char *fmt, ...)
{
    int n = snprintf(e->buf, e->len, "%s: %s%s", e->name, path, *path ? ": " : "");
    if (n < 0 || (size_t)n >= e->len) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void cli_path(char *out, size_t n, const char *parent, const char *key)
{
    snprintf(out, n, "%s%s%s", parent, *parent ? "." : "", key);
}

/* Refuse an object holding a key twice (cJSON keeps both; which one a
 * reader sees would be a guess), or more than `max` keys. */
static int cli_distinct_keys(cli_jerr *e, const char *path, const cJSON *obj, size_t max)
{
    size_t n = 0;
    for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next, n++) {
        if (n == max)
            return cli_jfail(e, path, "more than %zu keys; that is the limit here", max);
        for (const cJSON *before = obj->child; before != it; before = before->next)
            if (!strcmp(before->string, it->string)) {
                char p[512];
                cli_path(p, sizeof p, path, it->string);
                return cli_jfail(e, p, "the key appears twice; keep one");
            }
    }
    return 0;
}

/* Refuse keys of `obj` not in `known`, with the closest known key. */
static int cli_known_keys(cli_jerr *e, const char *path, const cJSON *obj,
                          const char *const *known, size_t n)
{
    if (cli_distinct_keys(e, path, obj, CLI_JOB_MAX_ENTRIES)) return -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        size_t k = 0;
        while (k < n && strcmp(known[k], it->string)) k++;
        if (k < n) continue;
        char p[512];
        cli_path(p, sizeof p, path, it->string);
        const char *best = cli_closest(it->string, known, n);
        if (best) return cli_jfail(e, p, "unknown key; did you mean '%s'?", best);
        char list[512] = "";
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", known[i]);
        }
        return cli_jfail(e, p, "unknown key; the keys here are: %s", list);
    }
    return 0;
}

/* A scalar as the text herd_options_set reads. */
static int cli_scalar_text(cli_jerr *e, const char *path, const cJSON *v, char *out, size_t n)
{
    if (cJSON_IsString(v) && strlen(v->valuestring) >= n)
        return cli_jfail(e, path, "the string is %zu bytes; values are at most %zu",
                         strlen(v->valuestring), n - 1);
    if (cJSON_IsString(v)) snprintf(out, n, "%s", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(out, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNumber(v)) snprintf(out, n, "%.17g", v->valuedouble);
    else return cli_jfail(e, path, "expected a string, number or boolean");
    return 0;
}

static int cli_set(cli_jerr *e, const char *path, herd_options *h, const char *option,
                   const cJSON *v)
{
    char text[1024];
    if (cli_scalar_text(e, path, v, text, sizeof text)) return -1;
    if (herd_options_set(h, option, text)) return cli_jfail(e, path, "%s", herd_last_error());
    return 0;
}

static int cli_string(cli_jerr *e, const char *path, const cJSON *v, char **out)
{
    if (!cJSON_IsString(v) || !*v->valuestring)
        return cli_jfail(e, path, "expected a non-empty string");
    char *s = strdup(v->valuestring);
    if (!s) return cli_jfail(e, path, "out of memory");
    free(*out);
    *out = s;
    return 0;
}

/* An array of non-empty strings; *out gets them joined by ','. */
static int cli_string_array(cli_jerr *e, const char *path, const cJSON *v, const char ***list,
                            size_t *n)
{
    if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v))
        return cli_jfail(e, path, "expected a non-empty array of strings");
    *n = (size_t)cJSON_GetArraySize(v);
    *list = calloc(*n, sizeof **list);
    if (!*list) return cli_jfail(e, path, "out of memory");
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it) || !*it->valuestring) {
            free(*list);
            *list = NULL;
            return cli_jfail(e, path, "item %zu: expected a non-empty string", i);
        }
        (*list)[i++] = it->valuestring;
    }
    return 0;
}

/* An object of `names[i]` -> option `options[i]` of handle h. */
static int cli_section(cli_jerr *e, const char *path, const cJSON *v, herd_options *h,
                       const char *const *names, const char *const *options, size_t n)
{
    if (!cJSON_IsObject(v)) return cli_jfail(e, path, "expected an object");
    if (cli_known_keys(e, path, v, names, n)) return -1;
    for (size_t i = 0; i < n; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(v, names[i]);
        char p[512];
        cli_path(p, sizeof p, path, names[i]);
        if (it && cli_set(e, p, h, options[i], it)) return -1;
    }
    return 0;
}

static const char *const cli_holdout_keys[] = {"order_by", "fraction", "periods"};
static const char *const cli_holdout_opts[] = {"holdout_order_by", "holdout_fraction",
                                               "holdout_periods"};
static const char *const cli_threshold_keys[] = {"metric", "min_abs_delta", "min_rel_delta",
                                                 "metric_min", "metric_max", "min_holdout_rows"};
static const char *const cli_threshold_opts[] = {
    "compare.metric", "compare.min_abs_delta", "compare.min_rel_delta",
    "compare.metric_min", "compare.metric_max", "compare.min_holdout_rows"};
static const char *const cli_bootstrap_keys[] = {"resamples", "confidence", "seed"};
static const char *const cli_bootstrap_opts[] = {"compare.bootstrap", "compare.confidence",
                                                 "compare.seed"};
static const char *const cli_cap_keys[] = {"max_promote_fraction", "force"};
static const char *const cli_cap_opts[] = {"compare.max_promote_fraction", "compare.force"};

#define N_OF(a) (sizeof a / sizeof a[0])

/* The keys of the job (and of a target's overrides, without "targets"). */
static const char *const cli_job_keys_all[] = {
    "family", "data", "keys", "features", "label", "params", "rounds", "fit", "fallback",
    "holdout", "thresholds", "bootstrap", "cap", "run_id", "targets"};

/* Apply one object of job keys (the top level or an overrides object). */
static int cli_job_fields(cli_job *j, cli_jerr *e, const char *path, const cJSON *obj,
                          int top)
{
    if (!cJSON_IsObject(obj)) return cli_jfail(e, path, "expected an object");
    if (cli_known_keys(e, path, obj, cli_job_keys_all, N_OF(cli_job_keys_all) - !top)) return -1;
    char p[512];
    const cJSON *v;
#define KEY(k) (cli_path(p, sizeof p, path, k), v = cJSON_GetObjectItemCaseSensitive(obj, k))
    if (KEY("family")) {
        if (cli_string(e, p, v, &j->family) || cli_set(e, p, j->cycle, "family", v)) return -1;
    }
    if (KEY("data") && cli_string(e, p, v, &j->data)) return -1;
    if (KEY("run_id")) {
        if (cli_string(e, p, v, &j->run_id)) return -1;
        if (herd_name_validate(j->run_id, "run_id"))
            return cli_jfail(e, p, "%s", herd_last_error());
    }
    if (KEY("keys")) {
        const char **list;
        size_t n;
        if (cli_string_array(e, p, v, &list, &n)) return -1;
        size_t len = 1;
        for (size_t i = 0; i < n; i++) len += strlen(list[i]) + 1;
        char *joined = calloc(1, len);
        for (size_t i = 0; joined && i < n; i++) {
            if (strchr(list[i], ',')) {
                free(list);
                free(joined);
                return cli_jfail(e, p, "item %zu: a key column name may not hold ','", i);
            }
            strcat(strcat(joined, i ? "," : ""), list[i]);
        }
        free(list);
        if (!joined) return cli_jfail(e, p, "out of memory");
        free(j->keys);
        j->keys = joined;
    }
    if (KEY("features")) {
        const char **list;
        size_t n;
        if (cli_string_array(e, p, v, &list, &n)) return -1;
        int rc = herd_options_set_strings(j->fit, "features", list, n);
        free(list);
        if (rc) return cli_jfail(e, p, "%s", herd_last_error());
    }
    if (KEY("label")) {
        if (!cJSON_IsString(v)) return cli_jfail(e, p, "expected a string");
        if (cli_set(e, p, j->fit, "label", v)) return -1;
    }
    if (KEY("params")) {
        if (!cJSON_IsObject(v)) return cli_jfail(e, p, "expected an object of XGBoost "
                                                 "parameters");
        if (cli_distinct_keys(e, p, v, CLI_JOB_MAX_ENTRIES)) return -1;
        const cJSON *it;
        cJSON_ArrayForEach(it, v) {
            char q[512], text[1024];
            cli_path(q, sizeof q, p, it->string);
            if (cli_scalar_text(e, q, it, text, sizeof text)) return -1;
            if (herd_options_set_entry(j->fit, "params", it->string, text))
                return cli_jfail(e, q, "%s", herd_last_error());
        }
    }
    if (KEY("rounds") && cli_set(e, p, j->fit, "rounds", v)) return -1;
    if (KEY("fit")) {
        /* Any other fit option by its table name: {"early_stopping_rounds": 10}. */
        if (!cJSON_IsObject(v)) return cli_jfail(e, p, "expected an object of fit options");
        if (cli_distinct_keys(e, p, v, CLI_JOB_MAX_ENTRIES)) return -1;
        const cJSON *it;
        cJSON_ArrayForEach(it, v) {
            char q[512];
            cli_path(q, sizeof q, p, it->string);
            if (cli_set(e, q, j->fit, it->string, it)) return -1;
        }
    }
    if (KEY("fallback") && cli_set(e, p, j->cycle, "fallback", v)) return -1;
    if (KEY("holdout") && cli_section(e, p, v, j->cycle, cli_holdout_keys, cli_holdout_opts,
                                      N_OF(cli_holdout_keys)))
        return -1;
    if (KEY("thresholds") && cli_section(e, p, v, j->cycle, cli_threshold_keys,
                                         cli_threshold_opts, N_OF(cli_threshold_keys)))
        return -1;
    if (KEY("bootstrap")) {
        /* A number is the resamples alone. */
        if (cJSON_IsNumber(v)) {
            if (cli_set(e, p, j->cycle, "compare.bootstrap", v)) return -1;
        } else if (cli_section(e, p, v, j->cycle, cli_bootstrap_keys, cli_bootstrap_opts,
                               N_OF(cli_bootstrap_keys))) {
            return -1;
        }
    }
    if (KEY("cap")) {
        /* A number is max_promote_fraction alone. */
        if (cJSON_IsNumber(v)) {
            if (cli_set(e, p, j->cycle, "compare.max_promote_fraction", v)) return -1;
        } else if (cli_section(e, p, v, j->cycle, cli_cap_keys, cli_cap_opts,
                               N_OF(cli_cap_keys))) {
            return -1;
        }
    }
#undef KEY
    return 0;
}

static const char *const cli_target_keys[] = {"registry", "overrides"};

/* Check a target and, when `apply`, take its registry and overrides. */
static int cli_job_target(cli_job *j, cli_jerr *e, const cJSON *t)
{
    char path[512];
    cli_path(path, sizeof path, "targets", t->string);
    if (!cJSON_IsObject(t)) return cli_jfail(e, path, "expected an object");
    if (herd_name_validate(t->string, "target name"))
        return cli_jfail(e, path, "%s", herd_last_error());
    if (cli_known_keys(e, path, t, cli_target_keys, 2)) return -1;
    char p[512];
    cli_path(p, sizeof p, path, "registry");
    const cJSON *reg = cJSON_GetObjectItemCaseSensitive(t, "registry");
    if (!reg) return cli_jfail(e, p, "missing: give the registry directory of this target");
    if (cli_string(e, p, reg, &j->registry)) return -1;
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(t, "overrides");
    cli_path(p, sizeof p, path, "overrides");
    return ov ? cli_job_fields(j, e, p, ov, 0) : 0;
}

static cli_job *cli_job_new(void)
{
    cli_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    if (herd_options_new("fit", &j->fit) || herd_options_new("cycle", &j->cycle)) {
        cli_job_free(j);
        return NULL;
    }
    return j;
}

void cli_job_free(cli_job *j)
{
    if (!j) return;
    free(j->data);
    free(j->keys);
    free(j->family);
    free(j->registry);
    free(j->run_id);
    for (size_t i = 0; i < j->n_targets; i++) free(j->targets[i]);
    free(j->targets);
    herd_options_free(j->fit);
    herd_options_free(j->cycle);
    free(j);
}

/* The required keys, after the overrides. */
static int cli_job_complete(const cli_job *j, cli_jerr *e, const char *where)
{
    const char *missing = !j->family ? "family" : !j->data ? "data" : !j->keys ? "keys" : NULL;
    char *v = NULL;
    if (!missing && !herd_options_get(j->fit, "label", &v) && !v) missing = "label";
    herd_free(v);
    v = NULL;
    if (!missing && !herd_options_get(j->fit, "features", &v) && v && !strcmp(v, "[]"))
        missing = "features";
    herd_free(v);
    v = NULL;
    if (!missing && !herd_options_get(j->cycle, "holdout_order_by", &v) && !v)
        missing = "holdout.order_by";
    herd_free(v);
    if (missing) return cli_jfail(e, missing, "missing%s%s: the job needs it", *where ? " in " : "",
                                  where);
    return 0;
}

/* Parse the whole job with `target` applied (NULL: none). */
static cli_job *cli_job_build(const cJSON *root, const char *target, cli_jerr *e)
{
    cli_job *j = cli_job_new();
    if (!j) {
        cli_jfail(e, "", "out of memory");
        return NULL;
    }
    if (cli_job_fields(j, e, "", root, 1)) goto fail;
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "targets");
    if (targets && !cJSON_IsObject(targets)) {
        cli_jfail(e, "targets", "expected an object of targets (\"staging\": {...})");
        goto fail;
    }
    if (cli_distinct_keys(e, "targets", targets, CLI_JOB_MAX_TARGETS)) goto fail;
    size_t nt = (size_t)cJSON_GetArraySize(targets);
    j->targets = calloc(nt + 1, sizeof *j->targets);
    const cJSON *t;
    cJSON_ArrayForEach(t, targets) {
        if (!j->targets || !(j->targets[j->n_targets] = strdup(t->string))) {
            cli_jfail(e, "", "out of memory");
            goto fail;
        }
        j->n_targets++;
    }
    if (target) {
        t = cJSON_GetObjectItemCaseSensitive(targets, target);
        if (!t) {
            const char *best = cli_closest(target, (const char *const *)j->targets, j->n_targets);
            char list[512] = "";
            for (size_t i = 0; i < j->n_targets; i++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", j->targets[i]);
            }
            char p[512];
            cli_path(p, sizeof p, "targets", target);
            if (best) cli_jfail(e, p, "no such target; did you mean '%s'?", best);
            else cli_jfail(e, p, "no such target; the job's targets are: %s",
                           nt ? list : "(none)");
            goto fail;
        }
        if (cli_job_target(j, e, t)) goto fail;
    }
    char where[512] = "";
    if (target) cli_path(where, sizeof where, "targets", target);
    if (cli_job_complete(j, e, where)) goto fail;
    return j;
fail:
    cli_job_free(j);
    return NULL;
}

cli_job *cli_job_parse(const char *bytes, size_t len, const char *name, const char *target,
                       char *err, size_t errlen)
{
    cli_jerr e = {.buf = err, .len = errlen, .name = name ? name : "job"};
    if (errlen) err[0] = '\0';
    if (len > CLI_JOB_MAX_BYTES) {
        cli_jfail(&e, "", "the file is %zu bytes; job files are at most %u bytes", len,
                  CLI_JOB_MAX_BYTES);
        return NULL;
    }
    cJSON *root = cJSON_ParseWithLength(bytes, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= bytes && at <= bytes + len ? (size_t)(at - bytes) : len;
        size_t line = 1;
        for (size_t i = 0; i < off; i++) line += bytes[i] == '\n';
        cli_jfail(&e, "", "not valid JSON (line %zu, byte %zu)", line, off);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        cli_jfail(&e, "", "a job file is one JSON object ({...})");
        return NULL;
    }
    /* Every target is checked, whichever is asked for. */
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "targets");
    const cJSON *t;
    if (!cJSON_IsObject(targets)) targets = NULL;
    cJSON_ArrayForEach(t, targets) {
        cli_job *check = cli_job_build(root, t->string, &e);
        if (!check) {
            cJSON_Delete(root);
            return NULL;
        }
        cli_job_free(check);
    }
    cli_job *j = cli_job_build(root, target, &e);
    cJSON_Delete(root);
    return j;
}

const char *cli_job_data(const cli_job *j) { return j->data; }
const char *cli_job_keys(const cli_job *j) { return j->keys; }
const char *cli_job_family(const cli_job *j) { return j->family; }
const char *cli_job_registry(const cli_job *j) { return j->registry; }
const char *cli_job_run_id(const cli_job *j) { return j->run_id; }
herd_options *cli_job_fit(cli_job *j) { return j->fit; }
herd_options *cli_job_cycle(cli_job *j) { return j->cycle; }
size_t cli_job_target_count(const cli_job *j) { return j->n_targets; }
const char *cli_job_target_name(const cli_job *j, size_t i)
{
    return i < j->n_targets ? j->targets[i] : NULL;
}
