/* xgb.c -- XGBoost 1.7 glue: errors, log forwarding, parameter names.
 *
 * XGBoost accepts misspelled parameters with only a log line and logs
 * through a callback it keeps per thread; herd turns the first into an
 * error and the second, on its own worker threads, into log records (the
 * host's threads are left alone: see hd_xgb_quiet_enter). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/log_internal.h"
#include "common/mem_internal.h"
#include "common/text_internal.h"
#include "model/xgb_internal.h"

/* XGBoost messages look like "[12:00:00] ./src/x.cc:12: text\nStack trace:
 * ...".  Keep "text" (the part a user can act on). */
static void hd_xgb_clean(const char *msg, char *out, size_t size)
{
    const char *s = msg ? msg : "(no message)";
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close && close - s < 16) s = close + 1;
        while (*s == ' ') s++;
    }
    /* Drop the source location "path:line: " when present. */
    const char *colon = strstr(s, ": ");
    if (colon && (strncmp(s, "./", 2) == 0 || strncmp(s, "/", 1) == 0)) s = colon + 2;
    size_t len = strlen(s);
    const char *trace = strstr(s, "Stack trace:");
    if (trace) len = (size_t)(trace - s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == ':')) len--;
    if (len >= size) len = size - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

int hd_xgb_error(const char *what)
{
    char clean[800];
    hd_xgb_clean(XGBGetLastError(), clean, sizeof clean);
    return hd_error(HERD_EXGBOOST, "%s: XGBoost: %s", what, clean);
}

static void hd_xgb_log(const char *msg)
{
    int level = HERD_LOG_INFO;
    if (strstr(msg, "WARNING")) level = HERD_LOG_WARN;
    if (!hd_log_enabled(level)) return;
    char clean[1024], text[1040];
    hd_xgb_clean(msg, clean, sizeof clean);
    snprintf(text, sizeof text, "XGBoost: %s", clean);
    hd_log_xgboost(level, text);
}

/* Whether this thread is one of herd's workers, with herd's callback. */
static _Thread_local int hd_xgb_own_thread;

void hd_xgb_worker_start(void *ctx, int worker)
{
    (void)ctx;
    (void)worker;
    XGBRegisterLogCallback(hd_xgb_log);
    hd_xgb_own_thread = 1;
}

/* XGBoost 1.7 keeps its log callback (LogCallbackRegistryStore) and its
 * "global" configuration, verbosity included (GlobalConfigThreadLocalStore),
 * per thread, and a booster's configuration writes its "verbosity"
 * parameter into the calling thread's copy (ConsoleLogger::Configure).  On
 * a thread herd does not own -- the host's, which may have registered its
 * own callback, as the xgboost Python package does -- herd must neither
 * replace the callback (XGBoost has no getter to restore it) nor leave a
 * verbosity behind.  Running such work on a herd thread instead would cost
 * a thread start and join per herd_model_predict call, more than a one-row
 * prediction itself, so herd keeps it on the caller's thread, silent: the
 * thread's configuration is saved, verbosity set to 0 (XGBoost then calls
 * no callback: warnings and info are dropped, errors still come back as
 * return codes) and the saved configuration put back afterwards. */
int hd_xgb_quiet_enter(hd_xgb_quiet *q)
{
    q->saved = NULL;
    if (hd_xgb_own_thread) return HERD_OK;
    const char *cfg = NULL;
    HD_XGB(XGBGetGlobalConfig(&cfg), "reading the thread's XGBoost configuration");
    if (!(q->saved = hd_strdup(cfg ? cfg : "{}"))) return HERD_ENOMEM;
    if (XGBSetGlobalConfig("{\"verbosity\": 0}")) {
        free(q->saved);
        q->saved = NULL;
        return hd_xgb_error("silencing XGBoost on the calling thread");
    }
    return HERD_OK;
}

void hd_xgb_quiet_leave(hd_xgb_quiet *q)
{
    if (!q->saved) return;
    /* It was read from XGBoost a moment ago: it parses.  Should it not,
     * nothing is left to restore and nobody to tell. */
    (void)XGBSetGlobalConfig(q->saved);
    free(q->saved);
    q->saved = NULL;
}

void hd_xgb_version(char *buf, size_t size)
{
    int major = 0, minor = 0, patch = 0;
    XGBoostVersion(&major, &minor, &patch);
    snprintf(buf, size, "%d.%d.%d", major, minor, patch);
}

/* Every parameter name XGBoost 1.7 knows (learner, generic, gbtree, dart,
 * gblinear, tree training, objectives), sorted.  Checked on this machine's
 * libxgboost 1.7: each is accepted without "not used" in a configuration
 * that uses it.  Names added in 2.0 (multi_strategy, quantile_alpha,
 * lambdarank_*, max_cached_hist_node) are not here: 1.7 ignores them. */
static const char *const hd_xgb_params[] = {
    "aft_loss_distribution", "aft_loss_distribution_scale", "alpha", "base_score",
    "booster", "cache_opt", "colsample_bylevel", "colsample_bynode", "colsample_bytree",
    "default_direction", "deterministic_histogram", "disable_default_eval_metric",
    "dsplit", "eta", "fail_on_invalid_gpu_id", "feature_selector", "fix_list_weight",
    "gamma", "gpu_id", "grow_policy", "huber_slope", "interaction_constraints", "lambda",
    "learning_rate", "max_bin", "max_cat_threshold", "max_cat_to_onehot", "max_delta_step",
    "max_depth", "max_leaves", "min_child_weight", "min_split_loss", "monotone_constraints",
    "normalize_type", "num_class", "num_feature", "num_pairsample", "num_parallel_tree",
    "objective", "one_drop", "opt_dense_col", "predictor", "process_type", "random_state",
    "rate_drop", "refresh_leaf", "reg_alpha", "reg_lambda", "sample_type", "sampling_method",
    "scale_pos_weight", "seed", "seed_per_iteration", "single_precision_histogram",
    "sketch_eps", "sketch_ratio", "skip_drop", "sparse_threshold", "subsample", "tolerance",
    "top_k", "tree_method", "tweedie_variance_power", "updater", "use_rmm",
    "validate_parameters", "verbosity",
};

/* Names that XGBoost knows but herd controls, with what to do instead. */
static const struct {
    const char *name, *hint;
} hd_xgb_reserved[] = {
    {"nthread", "herd sets it per group; set the apply options' threads"},
    {"n_jobs", "herd sets nthread per group; set the apply options' threads"},
    {"eval_metric", "herd evaluates with its own metrics; set herd_fit_options.metric"},
    {"num_boost_round", "set herd_fit_options.rounds"},
    {"n_estimators", "set herd_fit_options.rounds"},
    {"early_stopping_rounds", "set herd_fit_options.early_stopping_rounds"},
};

static int hd_known(const char *name)
{
    size_t lo = 0, hi = sizeof hd_xgb_params / sizeof *hd_xgb_params;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, hd_xgb_params[mid]);
        if (c == 0) return 1;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return 0;
}

static const char *hd_closest(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3; /* only suggest close matches */
    for (size_t i = 0; i < sizeof hd_xgb_params / sizeof *hd_xgb_params; i++) {
        size_t d = hd_edit_distance(name, hd_xgb_params[i]);
        if (d < best_d) {
            best_d = d;
            best = hd_xgb_params[i];
        }
    }
    return best;
}

static const char *hd_reserved_hint(const char *name)
{
    for (size_t i = 0; i < sizeof hd_xgb_reserved / sizeof *hd_xgb_reserved; i++)
        if (strcmp(name, hd_xgb_reserved[i].name) == 0) return hd_xgb_reserved[i].hint;
    return NULL;
}

/* Append to a message buffer, keeping it NUL-terminated when full. */
static void hd_append(char *buf, size_t size, size_t *len, const char *fmt, const char *a,
                      const char *b)
{
    if (*len >= size) return;
    int n = snprintf(buf + *len, size - *len, fmt, a, b);
    if (n > 0) *len += (size_t)n;
    if (*len >= size) *len = size;
}

int hd_xgb_check_param_names(const char *const *names, const char *const *values, size_t n)
{
    char msg[900];
    size_t len = 0, bad = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !values[i])
            return hd_error(HERD_EINVAL, "XGBoost parameter %zu: %s is NULL", i,
                            names[i] ? "its value" : "its name");
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return hd_error(HERD_EINVAL,
                                "XGBoost parameter '%s' is given twice; give it once",
                                names[i]);
        if (hd_known(names[i])) continue;
        const char *hint = hd_reserved_hint(names[i]);
        const char *close = hint ? NULL : hd_closest(names[i]);
        hd_append(msg, sizeof msg, &len, bad ? ", '%s'" : "'%s'", names[i], NULL);
        if (hint) hd_append(msg, sizeof msg, &len, " (%s)", hint, NULL);
        else if (close) hd_append(msg, sizeof msg, &len, " (did you mean '%s'?)", close, NULL);
        else hd_append(msg, sizeof msg, &len, " (not an XGBoost 1.7 parameter)", NULL, NULL);
        bad++;
    }
    if (!bad) return HERD_OK;
    return hd_error(HERD_EINVAL,
                    "%zu XGBoost parameter name%s rejected: %s; XGBoost 1.7 would ignore "
                    "unknown names silently, so herd refuses them",
                    bad, bad == 1 ? "" : "s", msg);
}
