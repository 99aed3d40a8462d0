/* options_table.c -- every option of every operation, in one table.
 *
 * The one place where option names, types, defaults, bounds and docs live:
 * the _init functions, the readers, the options handle and
 * herd_options_table() all use it.  A field added to a public options
 * struct gets its line here with the struct version that introduced it (a
 * test compares these tables with the structs in herd.h).
 */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "herd.h"
#include "common/options_internal.h"

#define HD_INT_MAX ((double)INT_MAX)
#define HD_I64_MAX ((double)INT64_MAX)
#define HD_U64_MAX ((double)UINT64_MAX)
#define HD_SIZE_MAX ((double)SIZE_MAX)

/* One line per option.  V: the struct version that introduced it. */
#define HD_NUM(S, V, f, t, d, lo, hi, fl, text)                                            \
    {.name = #f, .type = t, .since = V, .off = offsetof(S, f), .fields = #f, .def = d,      \
     .min = lo, .max = hi, .flags = fl, .doc = text}
#define HD_BOOL(S, V, f, d, text) HD_NUM(S, V, f, HD_OT_BOOL, d, 0, 1, 0, text)
#define HD_STR(S, V, f, d, text)                                                           \
    {.name = #f, .type = HD_OT_STRING, .since = V, .off = offsetof(S, f), .fields = #f,     \
     .def_text = d, .doc = text}
#define HD_PTR(S, V, f, text)                                                              \
    {.name = #f, .type = HD_OT_POINTER, .since = V, .off = offsetof(S, f), .fields = #f,    \
     .doc = text}
#define HD_ENUM(S, V, f, t, d, n, text)                                                    \
    {.name = #f, .type = t, .since = V, .off = offsetof(S, f), .fields = #f, .def = d,      \
     .names = n, .doc = text}
#define HD_LIST(S, V, name_, f, count, text)                                              \
    {.name = name_, .type = HD_OT_STRING_LIST, .since = V, .off = offsetof(S, f),           \
     .off_count = offsetof(S, count), .fields = #f "," #count, .doc = text}
#define HD_MAP(S, V, name_, t, keys, values, count, text)                                  \
    {.name = name_, .type = t, .since = V, .off = offsetof(S, keys),                        \
     .off_values = offsetof(S, values), .off_count = offsetof(S, count),                    \
     .fields = #keys "," #values "," #count, .doc = text}

#define HD_DESC(var, op, S, MACRO, table)                                                  \
    const hd_opt_struct var = {.operation = op, .type_name = #S,                           \
                               .init_name = #S "_init", .version_macro = #MACRO,           \
                               .version = MACRO, .size = sizeof(S), .opts = table,         \
                               .nopts = sizeof table / sizeof table[0]}

/* ---- herd_column_options ---------------------------------------------------- */

static const hd_opt_name hd_column_flags[] = {
    {"borrow", HERD_COLUMN_BORROW}, {"mask_missing", HERD_COLUMN_MASK_MISSING}, {NULL, 0}};

#define S herd_column_options
static const hd_opt hd_column_opts[] = {
    HD_ENUM(S, 1, flags, HD_OT_FLAGS, 0, hd_column_flags,
            "HERD_COLUMN_* bits: borrow the caller's memory, mask marks missing values"),
    HD_NUM(S, 1, stride, HD_OT_SIZE, 0, 0, HD_SIZE_MAX, 0,
           "bytes between consecutive values; 0: contiguous"),
    HD_PTR(S, 1, mask, "validity mask, one byte per row; NULL: every value present"),
};
#undef S
HD_DESC(hd_column_options_desc, "column", herd_column_options, HERD_COLUMN_OPTIONS_VERSION,
        hd_column_opts);

/* ---- herd_csv_options ------------------------------------------------------- */

static const hd_opt_name hd_csv_spaces_names[] = {{"numbers", HERD_CSV_SPACES_NUMBERS},
                                                   {"keep", HERD_CSV_SPACES_KEEP},
                                                   {"trim", HERD_CSV_SPACES_TRIM},
                                                   {NULL, 0}};

#define S herd_csv_options
static const hd_opt hd_csv_opts[] = {
    HD_NUM(S, 1, delimiter, HD_OT_CHAR, ',', 1, 127, 0,
           "field delimiter, one ASCII character other than '\"', CR and LF"),
    HD_MAP(S, 1, "types", HD_OT_TYPE_MAP, type_names, types, n_types,
           "reading: force the type of the named columns (column -> herd_type)"),
    HD_NUM(S, 1, float_digits, HD_OT_INT, 0, 0, 17, 0,
           "writing: significant digits of floats; 0: the shortest exact text"),
    HD_BOOL(S, 1, crlf, 0, "writing: end lines with CRLF instead of LF"),
    {.name = "progress", .type = HD_OT_PROGRESS, .since = 1,
     .off = offsetof(herd_csv_options, progress),
     .off_values = offsetof(herd_csv_options, progress_user),
     .fields = "progress,progress_user",
     .doc = "reading: progress callback and its user pointer (phases csv_scan, csv_convert), "
            "called on the calling thread"},
    HD_ENUM(S, 1, spaces, HD_OT_ENUM, HERD_CSV_SPACES_NUMBERS, hd_csv_spaces_names,
            "reading: ASCII spaces around fields: numbers (ignored around numbers, kept in "
            "strings), keep (always data), trim (removed from every field)"),
    HD_BOOL(S, 1, convert_out_of_range, 0,
            "reading: 1 reads numbers beyond their type's range as +-inf, +-0 or float64 "
            "(rounded) instead of failing with their line and column"),
    HD_NUM(S, 1, threads, HD_OT_INT, 0, 0, 1024, 0,
           "reading: threads parsing parts of the input at once; 0: the CPUs this process "
           "may use"),
};
#undef S
HD_DESC(hd_csv_options_desc, "csv", herd_csv_options, HERD_CSV_OPTIONS_VERSION, hd_csv_opts);

/* ---- herd_apply_options ----------------------------------------------------- */

#define S herd_apply_options
static const hd_opt hd_apply_opts[] = {
    HD_NUM(S, 1, threads, HD_OT_INT, 0, 0, 1024, 0,
           "worker threads; 0: the CPUs this process may use"),
    HD_NUM(S, 1, max_failed, HD_OT_INT64, -1, -1, HD_I64_MAX, 0,
           "stop starting groups once more than this many failed; -1: no limit"),
    HD_PTR(S, 1, cancel, "cancel flag (const int *), read atomically: nonzero stops the job"),
    {.name = "progress", .type = HD_OT_PROGRESS, .since = 1,
     .off = offsetof(herd_apply_options, progress),
     .off_values = offsetof(herd_apply_options, progress_user),
     .fields = "progress,progress_user",
     .doc = "progress callback and its user pointer, called on the calling thread"},
    HD_NUM(S, 1, progress_interval_s, HD_OT_DOUBLE, 0.25, 0, 3600, HD_OF_MIN_OPEN,
           "seconds between progress calls"),
    HD_NUM(S, 1, parallel_group_rows, HD_OT_SIZE, 50000, 0, HD_SIZE_MAX, 0,
           "groups with at least this many rows may get several CPU threads"),
};
#undef S
HD_DESC(hd_apply_options_desc, "apply", herd_apply_options, HERD_APPLY_OPTIONS_VERSION,
        hd_apply_opts);

/* ---- herd_predictor_options ------------------------------------------------- */

#define S herd_predictor_options
static const hd_opt hd_predictor_opts[] = {
    HD_NUM(S, 1, nthread, HD_OT_INT, 1, 0, 1024, 0,
           "XGBoost threads inside one prediction call; 0: herd_default_threads()"),
};
#undef S
HD_DESC(hd_predictor_options_desc, "predictor", herd_predictor_options,
        HERD_PREDICTOR_OPTIONS_VERSION, hd_predictor_opts);

/* ---- herd_fit_options ------------------------------------------------------- */

static const hd_opt_name hd_split_names[] = {
    {"random", HERD_SPLIT_RANDOM}, {"last", HERD_SPLIT_LAST}, {NULL, 0}};

#define S herd_fit_options
static const hd_opt hd_fit_opts[] = {
    HD_LIST(S, 1, "features", features, n_features, "feature column names (numeric)"),
    HD_STR(S, 1, label, NULL, "label column (numeric); required"),
    HD_STR(S, 1, weight, NULL, "weight column; NULL: none"),
    HD_MAP(S, 1, "params", HD_OT_STRING_MAP, param_names, param_values, n_params,
           "XGBoost parameters, name -> value"),
    HD_NUM(S, 1, rounds, HD_OT_INT, 100, 1, 1000000, 0, "boosting rounds"),
    HD_NUM(S, 1, early_stopping_rounds, HD_OT_INT, 0, 0, HD_INT_MAX, 0,
           "stop after this many rounds without improvement; 0: off"),
    HD_NUM(S, 1, valid_fraction, HD_OT_DOUBLE, 0.2, 0, 1, HD_OF_MAX_OPEN,
           "fraction of each group's rows held out for validation; 0: none"),
    HD_ENUM(S, 1, split, HD_OT_ENUM, HERD_SPLIT_RANDOM, hd_split_names,
            "validation rows: a seeded random fraction, or the last ones"),
    HD_STR(S, 1, valid_order_by, NULL, "split = last: order each group's rows by this column"),
    HD_NUM(S, 1, seed, HD_OT_UINT64, 0, 0, HD_U64_MAX, 0, "seed of the split, folds and XGBoost"),
    HD_STR(S, 1, metric, NULL, "validation metric; NULL: by objective"),
    HD_NUM(S, 1, min_rows, HD_OT_SIZE, 10, 2, HD_SIZE_MAX, 0,
           "groups with fewer rows are skipped"),
    HD_NUM(S, 1, cv_folds, HD_OT_INT, 0, 0, 100, 0,
           "k-fold cross-validation per group: 0 (off) or 2..100"),
};
#undef S
HD_DESC(hd_fit_options_desc, "fit", herd_fit_options, HERD_FIT_OPTIONS_VERSION, hd_fit_opts);

/* ---- herd_artifact_options -------------------------------------------------- */

#define S herd_artifact_options
static const hd_opt hd_artifact_opts[] = {
    HD_NUM(S, 1, compression_level, HD_OT_INT, -1, -1, 9, 0,
           "zlib level of the model, 0 (store) ..9; -1: the measured default"),
    HD_STR(S, 1, family, NULL, "the model family; NULL: none"),
    HD_STR(S, 1, group, NULL, "the group key; NULL: the fit's"),
    HD_STR(S, 1, run_id, NULL, "the batch job that trained it; NULL: none"),
    HD_STR(S, 2, idempotency_key, NULL,
           "recorded; herd_batch_add uses it when given none; NULL: none"),
};
#undef S
HD_DESC(hd_artifact_options_desc, "artifact", herd_artifact_options,
        HERD_ARTIFACT_OPTIONS_VERSION, hd_artifact_opts);

/* ---- herd_registry_options -------------------------------------------------- */

#define S herd_registry_options
static const hd_opt hd_registry_opts[] = {
    HD_BOOL(S, 1, create, 1, "create the registry when it is missing"),
    HD_BOOL(S, 1, read_only, 0, "never write or lock; batches are refused"),
    HD_NUM(S, 1, lock_timeout_ms, HD_OT_INT, -1, -1, HD_INT_MAX, 0,
           "ms a commit waits for another's; -1: as long as it takes, 0: not at all"),
    HD_BOOL(S, 1, allow_damaged, 0,
            "open a journal damaged before its end, read-only, up to the damage"),
    HD_NUM(S, 1, predict_cache_bytes, HD_OT_SIZE, 256.0 * 1024 * 1024, 0, HD_SIZE_MAX, 0,
           "bytes of models herd_registry_predict keeps loaded; 0: none"),
};
#undef S
HD_DESC(hd_registry_options_desc, "registry", herd_registry_options,
        HERD_REGISTRY_OPTIONS_VERSION, hd_registry_opts);

/* ---- herd_version_options --------------------------------------------------- */

#define S herd_version_options
static const hd_opt hd_version_opts[] = {
    HD_STR(S, 1, family, NULL, "the family; NULL: the artifact's"),
    HD_STR(S, 1, group, NULL, "the group key; NULL: the artifact's"),
    HD_STR(S, 1, run_id, NULL, "the run; NULL: the artifact's"),
    HD_STR(S, 1, idempotency_key, NULL,
           "a committed key adds nothing again; NULL: the artifact's, if any"),
    HD_MAP(S, 1, "tags", HD_OT_STRING_MAP, tag_names, tag_values, n_tags,
           "tags, name -> value"),
    HD_MAP(S, 1, "metrics", HD_OT_NUMBER_MAP, metric_names, metric_values, n_metrics,
           "metrics besides the artifact's, name -> value"),
    HD_STR(S, 1, alias, NULL, "an alias to point at the new version at commit; NULL: none"),
    HD_BOOL(S, 1, check_model, 1,
            "herd_batch_add_bytes validates the model (0: header, metadata, checksums only)"),
};
#undef S
HD_DESC(hd_version_options_desc, "version", herd_version_options,
        HERD_VERSION_OPTIONS_VERSION, hd_version_opts);

/* ---- herd_check_options ----------------------------------------------------- */

#define S herd_check_options
static const hd_opt hd_check_opts[] = {
    HD_BOOL(S, 1, deep, 0, "also inflate and validate every stored model"),
    {.name = "progress", .type = HD_OT_PROGRESS, .since = 1, .off = offsetof(S, progress),
     .off_values = offsetof(S, progress_user), .fields = "progress,progress_user",
     .doc = "progress callback and its user pointer (phase check); nonzero cancels"},
};
#undef S
HD_DESC(hd_check_options_desc, "check", herd_check_options, HERD_CHECK_OPTIONS_VERSION,
        hd_check_opts);

/* ---- herd_alias_options ----------------------------------------------------- */

#define S herd_alias_options
static const hd_opt hd_alias_opts[] = {
    HD_STR(S, 1, reason, NULL, "why, kept in the alias history"),
    HD_STR(S, 1, details, NULL, "a JSON object: the metrics behind the decision"),
    HD_STR(S, 1, run_id, NULL, "the run that moved it"),
    HD_NUM(S, 1, expect_version, HD_OT_INT64, -1, -1, HD_I64_MAX, 0,
           "move only if the alias points at this version; 0: absent; -1: always"),
};
#undef S
HD_DESC(hd_alias_options_desc, "alias", herd_alias_options, HERD_ALIAS_OPTIONS_VERSION,
        hd_alias_opts);

/* ---- herd_search_options ---------------------------------------------------- */

#define S herd_search_options
static const hd_opt hd_search_opts[] = {
    HD_STR(S, 1, family, NULL, "only this family; NULL: every family"),
    HD_STR(S, 1, group_pattern, NULL, "glob over group keys ('*', '?', '[a-z]'); NULL: all"),
    HD_STR(S, 1, tag_name, NULL, "versions with this tag"),
    HD_STR(S, 1, tag_value, NULL, "... and, if set, this tag value"),
    HD_STR(S, 1, metric, NULL, "versions with this metric, in [metric_min, metric_max]"),
    HD_NUM(S, 1, metric_min, HD_OT_DOUBLE, -INFINITY, -INFINITY, INFINITY, 0,
           "lowest metric value"),
    HD_NUM(S, 1, metric_max, HD_OT_DOUBLE, INFINITY, -INFINITY, INFINITY, 0,
           "highest metric value"),
    HD_STR(S, 1, alias, NULL, "versions an alias of this name points to"),
    HD_BOOL(S, 1, include_archived, 0, "also archived versions"),
    HD_NUM(S, 1, limit, HD_OT_SIZE, 0, 0, HD_SIZE_MAX, 0, "at most this many rows; 0: all"),
};
#undef S
HD_DESC(hd_search_options_desc, "search", herd_search_options, HERD_SEARCH_OPTIONS_VERSION,
        hd_search_opts);

/* ---- herd_compare_options --------------------------------------------------- */

#define S herd_compare_options
static const hd_opt hd_compare_opts[] = {
    HD_STR(S, 1, family, NULL, "the family; required"),
    HD_STR(S, 1, champion, "champion", "alias of the models in production"),
    HD_STR(S, 1, challenger, "challenger", "alias of the candidates"),
    HD_STR(S, 1, label, NULL, "label column of the holdout rows; required"),
    HD_STR(S, 1, weight, NULL, "weight column; NULL: none"),
    HD_STR(S, 1, metric, "rmse", "the metric (any herd_metric_eval name)"),
    HD_NUM(S, 1, min_abs_delta, HD_OT_DOUBLE, 0, 0, INFINITY, 0,
           "improvement needed, in metric units"),
    HD_NUM(S, 1, min_rel_delta, HD_OT_DOUBLE, 0, 0, INFINITY, 0,
           "improvement needed, as a fraction of the champion's metric"),
    HD_NUM(S, 1, metric_min, HD_OT_DOUBLE, -INFINITY, -INFINITY, INFINITY, 0,
           "the challenger's metric must be at least this"),
    HD_NUM(S, 1, metric_max, HD_OT_DOUBLE, INFINITY, -INFINITY, INFINITY, 0,
           "the challenger's metric must be at most this"),
    HD_NUM(S, 1, min_holdout_rows, HD_OT_SIZE, 1, 0, HD_SIZE_MAX, 0,
           "groups with fewer holdout rows are skipped"),
    HD_NUM(S, 1, holdout_fraction, HD_OT_DOUBLE, 0, 0, 1, 0,
           "holdout: the last fraction of each group's rows; 0: every row"),
    HD_STR(S, 1, holdout_order_by, NULL, "the column that orders each group's rows"),
    HD_NUM(S, 1, bootstrap, HD_OT_INT, 0, 0, 1000000, 0,
           "paired bootstrap resamples; 0: off"),
    HD_NUM(S, 1, confidence, HD_OT_DOUBLE, 0.95, 0.5, 1, HD_OF_MIN_OPEN | HD_OF_MAX_OPEN,
           "one-sided confidence of the bootstrap"),
    HD_NUM(S, 1, seed, HD_OT_UINT64, 0, 0, HD_U64_MAX, 0, "bootstrap seed"),
    HD_BOOL(S, 1, dry_run, 0, "decide, move nothing"),
    HD_NUM(S, 1, max_promote_fraction, HD_OT_DOUBLE, 0.5, 0, 1, 0,
           "refuse to replace more than this fraction of champions; 1: no cap"),
    HD_BOOL(S, 1, force, 0, "promote even beyond max_promote_fraction"),
    HD_STR(S, 1, run_id, NULL, "the run recorded with each alias move"),
    HD_NUM(S, 1, holdout_periods, HD_OT_SIZE, 0, 0, HD_SIZE_MAX, 0,
           "holdout: each group's rows of its N latest holdout_order_by values; 0: off"),
};
#undef S
HD_DESC(hd_compare_options_desc, "compare", herd_compare_options, HERD_COMPARE_OPTIONS_VERSION,
        hd_compare_opts);

/* ---- herd_cycle_options ----------------------------------------------------- */

static const hd_opt_name hd_cycle_models[] = {
    {"groups", HERD_CYCLE_GROUPS}, {"family", HERD_CYCLE_FAMILY}, {NULL, 0}};

#define S herd_cycle_options
static const hd_opt hd_cycle_opts[] = {
    HD_STR(S, 1, family, NULL, "the family; required"),
    HD_STR(S, 1, run_id, NULL, "names the run; re-running it adds nothing; required"),
    HD_NUM(S, 1, holdout_fraction, HD_OT_DOUBLE, 0, 0, 1, HD_OF_MAX_OPEN,
           "holdout: the last fraction of each group's rows; 0: 0.2 unless holdout_periods"),
    HD_STR(S, 1, holdout_order_by, NULL, "the column that orders each group's rows; required"),
    HD_BOOL(S, 1, fallback, 0, "also train and register the family model"),
    {.name = "compare", .type = HD_OT_OPTIONS, .since = 1,
     .off = offsetof(herd_cycle_options, compare), .fields = "compare",
     .nested = &hd_compare_options_desc,
     .doc = "comparison options (by name: compare.NAME); NULL: defaults"},
    HD_NUM(S, 1, holdout_periods, HD_OT_SIZE, 0, 0, HD_SIZE_MAX, 0,
           "holdout: each group's rows of its N latest holdout_order_by values; 0: off"),
    HD_ENUM(S, 2, models, HD_OT_FLAGS, HERD_CYCLE_GROUPS | HERD_CYCLE_FAMILY, hd_cycle_models,
            "HERD_CYCLE_* bits: the models herd_cycle_train trains (groups, family)"),
};
#undef S
HD_DESC(hd_cycle_options_desc, "cycle", herd_cycle_options, HERD_CYCLE_OPTIONS_VERSION,
        hd_cycle_opts);

/* ---- herd_registry_predict_options ------------------------------------------ */

#define S herd_registry_predict_options
static const hd_opt hd_registry_predict_opts[] = {
    HD_STR(S, 1, family, NULL, "the family; required"),
    HD_STR(S, 1, alias, "champion", "the alias whose models predict"),
    HD_BOOL(S, 1, fallback, 0, "groups without the alias use the family model"),
};
#undef S
HD_DESC(hd_registry_predict_options_desc, "registry_predict", herd_registry_predict_options,
        HERD_REGISTRY_PREDICT_OPTIONS_VERSION, hd_registry_predict_opts);

/* ---- herd_copy_options ------------------------------------------------------ */

#define S herd_copy_options
static const hd_opt hd_copy_opts[] = {
    HD_STR(S, 1, family, NULL, "the family to copy; required"),
    HD_STR(S, 1, alias, "champion", "the alias whose models are copied and moved"),
    HD_STR(S, 1, group_pattern, NULL, "glob over group keys ('*', '?', '[a-z]'); NULL: all"),
    HD_STR(S, 1, reason, NULL, "recorded with each alias move; NULL: names the source version"),
};
#undef S
HD_DESC(hd_copy_options_desc, "copy", herd_copy_options, HERD_COPY_OPTIONS_VERSION,
        hd_copy_opts);

/* ---- herd_register_options -------------------------------------------------- */

#define S herd_register_options
static const hd_opt hd_register_opts[] = {
    HD_STR(S, 1, family, NULL, "the family; required"),
    HD_STR(S, 1, run_id, NULL,
           "the run: idempotency keys FAMILY/RUN_ID/GROUP and a run record; NULL: none"),
    HD_STR(S, 1, alias, NULL, "an alias to point at each new version; NULL: none"),
};
#undef S
HD_DESC(hd_register_options_desc, "register", herd_register_options,
        HERD_REGISTER_OPTIONS_VERSION, hd_register_opts);

const hd_opt_struct *const hd_options_all[] = {
    &hd_column_options_desc,   &hd_csv_options_desc,      &hd_apply_options_desc,
    &hd_predictor_options_desc, &hd_fit_options_desc,     &hd_artifact_options_desc,
    &hd_registry_options_desc, &hd_check_options_desc, &hd_version_options_desc,
    &hd_alias_options_desc,
    &hd_search_options_desc,   &hd_compare_options_desc,  &hd_cycle_options_desc,
    &hd_registry_predict_options_desc, &hd_copy_options_desc, &hd_register_options_desc,
    NULL};

/* ---- the public init functions ---------------------------------------------- */

int herd_column_options_init(herd_column_options *opt, unsigned int version)
{
    return hd_options_init(&hd_column_options_desc, opt, version);
}

int herd_csv_options_init(herd_csv_options *opt, unsigned int version)
{
    return hd_options_init(&hd_csv_options_desc, opt, version);
}

int herd_apply_options_init(herd_apply_options *opt, unsigned int version)
{
    return hd_options_init(&hd_apply_options_desc, opt, version);
}

int herd_predictor_options_init(herd_predictor_options *opt, unsigned int version)
{
    return hd_options_init(&hd_predictor_options_desc, opt, version);
}

int herd_fit_options_init(herd_fit_options *opt, unsigned int version)
{
    return hd_options_init(&hd_fit_options_desc, opt, version);
}

int herd_artifact_options_init(herd_artifact_options *opt, unsigned int version)
{
    return hd_options_init(&hd_artifact_options_desc, opt, version);
}

int herd_registry_options_init(herd_registry_options *opt, unsigned int version)
{
    return hd_options_init(&hd_registry_options_desc, opt, version);
}

int herd_version_options_init(herd_version_options *opt, unsigned int version)
{
    return hd_options_init(&hd_version_options_desc, opt, version);
}

int herd_check_options_init(herd_check_options *opt, unsigned int version)
{
    return hd_options_init(&hd_check_options_desc, opt, version);
}

int herd_alias_options_init(herd_alias_options *opt, unsigned int version)
{
    return hd_options_init(&hd_alias_options_desc, opt, version);
}

int herd_search_options_init(herd_search_options *opt, unsigned int version)
{
    return hd_options_init(&hd_search_options_desc, opt, version);
}

int herd_compare_options_init(herd_compare_options *opt, unsigned int version)
{
    return hd_options_init(&hd_compare_options_desc, opt, version);
}

int herd_cycle_options_init(herd_cycle_options *opt, unsigned int version)
{
    return hd_options_init(&hd_cycle_options_desc, opt, version);
}

int herd_registry_predict_options_init(herd_registry_predict_options *opt, unsigned int version)
{
    return hd_options_init(&hd_registry_predict_options_desc, opt, version);
}

int herd_copy_options_init(herd_copy_options *opt, unsigned int version)
{
    return hd_options_init(&hd_copy_options_desc, opt, version);
}

int herd_register_options_init(herd_register_options *opt, unsigned int version)
{
    return hd_options_init(&hd_register_options_desc, opt, version);
}
