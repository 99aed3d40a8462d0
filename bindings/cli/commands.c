/* commands.c -- the subcommands: each reads its flags, maps the rest onto
 * the options of its operations by name, calls the library and prints a
 * frame (CSV, or JSON with --json). */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define N_OF(a) (sizeof a / sizeof a[0])

/* Options handles of one command, freed together. */
typedef struct cli_opts {
    herd_options *h[4];
    size_t n;
} cli_opts;

static int cli_opts_new(cli_opts *o, const cli_command *cmd)
{
    memset(o, 0, sizeof *o);
    for (const char *const *op = cmd->operations; op && *op; op++)
        if (herd_options_new(*op, &o->h[o->n++])) return cli_fail("options");
    return CLI_OK;
}

static void cli_opts_free(cli_opts *o)
{
    for (size_t i = 0; i < o->n; i++) herd_options_free(o->h[i]);
}

static herd_options *cli_opts_of(cli_opts *o, const char *operation)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(herd_options_operation(o->h[i]), operation)) return o->h[i];
    return NULL;
}

/* Progress and Ctrl-C for the pool of every parallel call. */
static int cli_apply_progress(cli_opts *o)
{
    herd_options *ap = cli_opts_of(o, "apply");
    if (ap && herd_options_set_progress(ap, "progress", cli_progress, NULL))
        return cli_fail("options");
    return CLI_OK;
}

static const void *cli_struct(cli_opts *o, const char *operation)
{
    herd_options *h = cli_opts_of(o, operation);
    return h ? herd_options_struct(h, operation) : NULL;
}

/* The end of a parallel call: cancelled, failed, or fine. */
static int cli_done(int rc, const char *what)
{
    cli_progress_done();
    if (rc == HERD_ECANCELED || (rc && cli_interrupted())) {
        fprintf(stderr, "herd: %s: cancelled (Ctrl-C); nothing was committed by the "
                "cancelled step\n", what);
        return CLI_ERROR;
    }
    return rc ? cli_fail(what) : CLI_OK;
}

/* ---- fit ------------------------------------------------------------------- */

static int cmd_fit(const cli_command *cmd, cli_args *a)
{
    const char *data = cli_flag_need(a, cmd->name, "data");
    const char *keys = data ? cli_flag_need(a, cmd->name, "keys") : NULL;
    if (!keys) return CLI_USAGE;
    const char *out = cli_flag_get(a, "out"), *reg_path = cli_flag_get(a, "registry");
    const char *family = cli_flag_get(a, "family"), *alias = cli_flag_get(a, "alias");
    const char *run_id = cli_flag_get(a, "run_id");
    if (reg_path && !family) return cli_usage(cmd->name, "--registry needs --family");
    cli_opts o;
    int rc = cli_opts_new(&o, cmd);
    if (!rc) rc = cli_args_apply(a, cmd, o.h, o.n);
    if (!rc) rc = cli_apply_progress(&o);
    herd_frame *frame = NULL, *report = NULL;
    herd_groups *groups = NULL;
    herd_fit_result *fit = NULL;
    herd_registry *reg = NULL;
    herd_batch *batch = NULL;
    if (!rc) rc = cli_read_grouped(data, keys, &frame, &groups);
    if (!rc) rc = cli_done(herd_fit(groups, cli_struct(&o, "fit"), cli_struct(&o, "apply"), &fit),
                           "fit");
    if (!rc && herd_fit_result_report(fit, &report)) rc = cli_fail("fit report");
    if (!rc && reg_path) {
        /* Register every trained group's model in one batch. */
        rc = cli_open_registry(reg_path, 1, &reg);
        if (!rc && herd_registry_begin(reg, &batch)) rc = cli_fail("registry");
        herd_artifact_options ao;
        herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
        ao.family = family;
        ao.run_id = run_id;
        herd_version_options vo;
        herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
        vo.alias = alias;
        size_t added = 0;
        for (size_t i = 0; !rc && i < herd_groups_count(groups); i++) {
            herd_artifact *art = NULL;
            int r = herd_fit_result_artifact(fit, herd_groups_key(groups, i), &ao, &art);
            if (r == HERD_MISSING) continue;
            if (r || herd_batch_add(batch, art, &vo, NULL)) rc = cli_fail("registering");
            herd_artifact_free(art);
            added++;
        }
        if (!rc && herd_batch_set_progress(batch, cli_progress, NULL)) rc = cli_fail("registry");
        if (!rc && herd_batch_commit(batch)) rc = cli_fail("committing");
        cli_progress_done();
        if (!rc && !cli_quiet)
            fprintf(stderr, "herd: registered %zu models of family %s in %s\n", added, family,
                    reg_path);
    }
    if (!rc) rc = cli_frame_out(report, out);
    herd_batch_free(batch);
    herd_registry_free(reg);
    herd_frame_free(report);
    herd_fit_result_free(fit);
    herd_groups_free(groups);
    herd_frame_free(frame);
    cli_opts_free(&o);
    return rc;
}

/* ---- cycle (and job run) ------------------------------------------------------ */

/* Decisions out, the summary on stderr, the exit code for --fail-on-reject. */
static int cli_cycle_outcome(int rc, herd_frame *decisions, herd_frame *summary,
                             const char *out, int fail_on_reject)
{
    cli_progress_done();
    int refused = rc == HERD_EREFUSED;
    if (rc && !refused) return cli_done(rc, "cycle");
    /* out NULL: decisions to stdout; "": none (job run); else a file. */
    int out_rc = decisions && (!out || *out) ? cli_frame_out(decisions, out) : CLI_OK;
    if (out && !cli_quiet && summary) {
        size_t dc, gc;
        herd_frame_find(summary, "decision", &dc);
        herd_frame_find(summary, "groups", &gc);
        fprintf(stderr, "herd: decisions:");
        for (size_t r = 0; r < herd_frame_row_count(summary); r++) {
            const char *d = NULL;
            int64_t n = 0;
            herd_frame_get_string(summary, dc, r, &d);
            herd_frame_get_int64(summary, gc, r, &n);
            fprintf(stderr, " %s %lld%s", d, (long long)n,
                    r + 1 < herd_frame_row_count(summary) ? "," : "\n");
        }
    }
    if (refused) {
        fprintf(stderr, "herd: promotion refused: %s\n", herd_last_error());
        return fail_on_reject ? CLI_REJECTED : out_rc;
    }
    if (out_rc || !fail_on_reject) return out_rc;
    size_t pc;
    int64_t promoted = 0;
    if (decisions && !herd_frame_find(decisions, "promoted", &pc))
        for (size_t r = 0; r < herd_frame_row_count(decisions); r++) {
            int64_t v = 0;
            herd_frame_get_int64(decisions, pc, r, &v);
            promoted += v;
        }
    if (!promoted) {
        fprintf(stderr, "herd: no challenger won (--fail-on-reject)\n");
        return CLI_REJECTED;
    }
    return CLI_OK;
}

/* A run id from the data: the same file gives the same run (re-running adds
 * nothing), new data a new run. */
static void cli_default_run_id(const char *path, char *out, size_t size)
{
    uint64_t h = 1469598103934665603ULL;
    FILE *f = fopen(path, "rb");
    unsigned char buf[65536];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ULL;
    if (f) fclose(f);
    snprintf(out, size, "run-%016llx", (unsigned long long)h);
}

static int cli_run_cycle(const char *data, const char *keys, const char *reg_path,
                         herd_options *fit, herd_options *cycle, herd_options *apply,
                         const char *out, int fail_on_reject)
{
    char run_id[64];
    char *given = NULL;
    herd_options_get(cycle, "run_id", &given);
    if (!given) {
        cli_default_run_id(data, run_id, sizeof run_id);
        if (herd_options_set(cycle, "run_id", run_id)) return cli_fail("run id");
    }
    herd_free(given);
    herd_frame *frame = NULL, *decisions = NULL, *summary = NULL;
    herd_groups *groups = NULL;
    herd_registry *reg = NULL;
    int rc = cli_read_grouped(data, keys, &frame, &groups);
    if (!rc) rc = cli_open_registry(reg_path, 1, &reg);
    if (!rc) {
        int r = herd_cycle(reg, groups, herd_options_struct(fit, "fit"),
                           herd_options_struct(cycle, "cycle"),
                           herd_options_struct(apply, "apply"), &decisions, &summary);
        rc = cli_cycle_outcome(r, decisions, summary, out, fail_on_reject);
    }
    herd_frame_free(decisions);
    herd_frame_free(summary);
    herd_registry_free(reg);
    herd_groups_free(groups);
    herd_frame_free(frame);
    return rc;
}

static int cmd_cycle(const cli_command *cmd, cli_args *a)
{
    const char *data = cli_flag_need(a, cmd->name, "data");
    const char *keys = data ? cli_flag_need(a, cmd->name, "keys") : NULL;
    const char *reg = keys ? cli_flag_need(a, cmd->name, "registry") : NULL;
    if (!reg) return CLI_USAGE;
    const char *out = cli_flag_get(a, "out");
    int fail_on_reject = cli_flag_on(a, "fail_on_reject");
    cli_opts o;
    int rc = cli_opts_new(&o, cmd);
    if (!rc) rc = cli_args_apply(a, cmd, o.h, o.n);
    if (!rc) rc = cli_apply_progress(&o);
    if (!rc)
        rc = cli_run_cycle(data, keys, reg, cli_opts_of(&o, "fit"), cli_opts_of(&o, "cycle"),
                           cli_opts_of(&o, "apply"), out, fail_on_reject);
    cli_opts_free(&o);
    return rc;
}

/* ---- predict -------------------------------------------------------------------- */

/* The input's columns (borrowed) followed by the prediction's. */
static int cli_join(const herd_frame *in, const herd_frame *pred, herd_frame **out)
{
    herd_frame *f = NULL;
    if (herd_frame_new(&f)) return cli_fail("predict");
    const herd_frame *parts[2] = {in, pred};
    herd_column_options co;
    herd_column_options_init(&co, HERD_COLUMN_OPTIONS_VERSION);
    co.flags = HERD_COLUMN_BORROW;
    for (int p = 0; p < 2; p++)
        for (size_t c = 0; c < herd_frame_column_count(parts[p]); c++) {
            const void *data;
            size_t stride;
            const uint8_t *mask;
            herd_frame_column_data(parts[p], c, &data, &stride, &mask);
            co.stride = stride;
            co.mask = mask;
            if (herd_frame_add_column(f, herd_frame_column_name(parts[p], c),
                                      herd_frame_column_type(parts[p], c), data,
                                      herd_frame_row_count(parts[p]), &co)) {
                herd_frame_free(f);
                return cli_fail("predict output");
            }
        }
    *out = f;
    return CLI_OK;
}

static int cmd_predict(const cli_command *cmd, cli_args *a)
{
    const char *data = cli_flag_need(a, cmd->name, "data");
    const char *keys = data ? cli_flag_need(a, cmd->name, "keys") : NULL;
    const char *reg_path = keys ? cli_flag_need(a, cmd->name, "registry") : NULL;
    if (!reg_path) return CLI_USAGE;
    const char *out = cli_flag_get(a, "out");
    cli_opts o;
    int rc = cli_opts_new(&o, cmd);
    if (!rc) rc = cli_args_apply(a, cmd, o.h, o.n);
    if (!rc) rc = cli_apply_progress(&o);
    herd_frame *frame = NULL, *pred = NULL, *joined = NULL;
    herd_groups *groups = NULL;
    herd_registry *reg = NULL;
    size_t without = 0;
    if (!rc) rc = cli_read_grouped(data, keys, &frame, &groups);
    if (!rc) rc = cli_open_registry(reg_path, 0, &reg);
    if (!rc)
        rc = cli_done(herd_registry_predict(reg, groups, cli_struct(&o, "registry_predict"),
                                            cli_struct(&o, "apply"), &pred, &without),
                      "predict");
    if (!rc) rc = cli_join(frame, pred, &joined);
    if (!rc) rc = cli_frame_out(joined, out);
    if (!rc && out && !cli_quiet)
        fprintf(stderr, "herd: predicted %zu rows into %s\n", herd_frame_row_count(pred), out);
    if (!rc && without && !cli_quiet)
        fprintf(stderr, "herd: %zu rows have no model (prediction left empty)\n", without);
    herd_frame_free(joined);
    herd_frame_free(pred);
    herd_registry_free(reg);
    herd_groups_free(groups);
    herd_frame_free(frame);
    cli_opts_free(&o);
    return rc;
}

/* ---- export / import ---------------------------------------------------------------- */

static int cmd_export(const cli_command *cmd, cli_args *a)
{
    const char *reg_path = cli_flag_need(a, cmd->name, "registry");
    const char *out = reg_path ? cli_flag_need(a, cmd->name, "out") : NULL;
    if (!out) return CLI_USAGE;
    if (a->n_pos != 1) return cli_usage(cmd->name, "give one model URI (herd:FAMILY/GROUP@ALIAS)");
    const char *format = cli_flag_get(a, "format");
    if (!format) format = "artifact";
    int fmt = !strcmp(format, "json") ? HERD_MODEL_JSON : !strcmp(format, "ubj") ? HERD_MODEL_UBJSON
                                                                                 : 0;
    if (!fmt && strcmp(format, "artifact"))
        return cli_usage(cmd->name, "--format is artifact, json or ubj; got '%s'", format);
    herd_registry *reg = NULL;
    herd_artifact *art = NULL;
    herd_model *model = NULL;
    void *bytes = NULL;
    size_t len = 0;
    int rc = cli_args_apply(a, cmd, NULL, 0);
    if (!rc) rc = cli_open_registry(reg_path, 0, &reg);
    if (!rc && herd_registry_load_uri(reg, a->pos[0], &art)) rc = cli_fail(a->pos[0]);
    if (!rc && !fmt && herd_artifact_write_file(art, out)) rc = cli_fail(out);
    if (!rc && fmt) {
        if (herd_artifact_model(art, &model) || herd_model_save(model, fmt, &bytes, &len))
            rc = cli_fail("export");
        FILE *f = rc ? NULL : fopen(out, "wb");
        if (!rc && (!f || fwrite(bytes, 1, len, f) != len)) {
            fprintf(stderr, "herd: %s: cannot write\n", out);
            rc = CLI_ERROR;
        }
        if (f && fclose(f) && !rc) rc = CLI_ERROR;
    }
    herd_free(bytes);
    herd_model_free(model);
    herd_artifact_free(art);
    herd_registry_free(reg);
    return rc;
}

static int cmd_import(const cli_command *cmd, cli_args *a)
{
    const char *reg_path = cli_flag_need(a, cmd->name, "registry");
    const char *family = reg_path ? cli_flag_need(a, cmd->name, "family") : NULL;
    const char *group = family ? cli_flag_need(a, cmd->name, "group") : NULL;
    if (!group) return CLI_USAGE;
    if (a->n_pos != 1) return cli_usage(cmd->name, "give one file: an artifact, or an XGBoost "
                                        "model (.json / .ubj)");
    const char *alias = cli_flag_get(a, "alias");
    int rc = cli_args_apply(a, cmd, NULL, 0);
    herd_artifact *art = NULL;
    herd_model *model = NULL;
    herd_registry *reg = NULL;
    herd_batch *b = NULL;
    if (!rc && herd_artifact_read_file(a->pos[0], &art)) {
        /* Not an artifact: an XGBoost model file. */
        FILE *f = fopen(a->pos[0], "rb");
        char *buf = NULL;
        long len = -1;
        if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET) &&
            (buf = malloc((size_t)len + 1)) && fread(buf, 1, (size_t)len, f) == (size_t)len) {
            herd_artifact_options ao;
            herd_artifact_options_init(&ao, HERD_ARTIFACT_OPTIONS_VERSION);
            ao.family = family;
            ao.group = group;
            if (herd_model_load(buf, (size_t)len, &model) ||
                herd_artifact_from_model(model, &ao, &art))
                rc = cli_fail(a->pos[0]);
        } else {
            rc = cli_fail(a->pos[0]);
        }
        free(buf);
        if (f) fclose(f);
    }
    if (!rc) rc = cli_open_registry(reg_path, 1, &reg);
    herd_version_options vo;
    herd_version_options_init(&vo, HERD_VERSION_OPTIONS_VERSION);
    vo.family = family;
    vo.group = group;
    vo.alias = alias;
    int64_t v = 0;
    if (!rc && (herd_registry_begin(reg, &b) || herd_batch_add(b, art, &vo, NULL) ||
                herd_batch_commit(b) || herd_batch_version(b, 0, &v, NULL)))
        rc = cli_fail("import");
    if (!rc) {
        char *uri = NULL;
        herd_uri_format(family, group, NULL, v, &uri);
        printf(cli_json ? "{\"uri\":\"%s\",\"version\":%lld}\n" : "%s\t%lld\n", uri ? uri : "",
               (long long)v);
        herd_free(uri);
    }
    herd_batch_free(b);
    herd_registry_free(reg);
    herd_model_free(model);
    herd_artifact_free(art);
    return rc;
}

/* ---- registry ------------------------------------------------------------------------ */

/* Open --registry read-only for the listing commands. */
static int cli_reg_read(const cli_command *cmd, cli_args *a, herd_registry **reg)
{
    const char *path = cli_flag_need(a, cmd->name, "registry");
    if (!path) return CLI_USAGE;
    int rc = cli_args_apply(a, cmd, NULL, 0);
    return rc ? rc : cli_open_registry(path, 0, reg);
}

/* Print *f (which the call producing `status` filled) and free it.  The
 * frame goes by address: the call's argument is evaluated before *f is set. */
static int cli_print(int status, herd_frame **f, const char *what)
{
    int rc = status ? cli_fail(what) : cli_frame_out(*f, NULL);
    herd_frame_free(*f);
    *f = NULL;
    return rc;
}

static int cmd_registry_ls(const cli_command *cmd, cli_args *a)
{
    const char *family = cli_flag_get(a, "family");
    herd_registry *reg = NULL;
    int rc = cli_reg_read(cmd, a, &reg);
    herd_frame *f = NULL;
    if (!rc) rc = cli_print(family ? herd_registry_groups(reg, family, &f)
                                   : herd_registry_families(reg, &f), &f, "registry ls");
    herd_registry_free(reg);
    return rc;
}

static int cmd_registry_show(const cli_command *cmd, cli_args *a)
{
    if (a->n_pos != 1) return cli_usage(cmd->name, "give one model URI (herd:FAMILY/GROUP@ALIAS)");
    herd_registry *reg = NULL;
    herd_artifact *art = NULL;
    int rc = cli_reg_read(cmd, a, &reg);
    if (!rc && herd_registry_load_uri(reg, a->pos[0], &art)) rc = cli_fail(a->pos[0]);
    if (!rc) printf("%s\n", herd_artifact_metadata(art));
    herd_artifact_free(art);
    herd_registry_free(reg);
    return rc;
}

static int cmd_registry_history(const cli_command *cmd, cli_args *a)
{
    const char *family = cli_flag_need(a, cmd->name, "family");
    if (!family) return CLI_USAGE;
    const char *group = cli_flag_get(a, "group"), *alias = cli_flag_get(a, "alias");
    herd_registry *reg = NULL;
    herd_frame *f = NULL;
    int rc = cli_reg_read(cmd, a, &reg);
    if (!rc) rc = cli_print(herd_registry_alias_history(reg, family, group, alias, &f), &f,
                            "registry history");
    herd_registry_free(reg);
    return rc;
}

static int cmd_registry_search(const cli_command *cmd, cli_args *a)
{
    const char *path = cli_flag_need(a, cmd->name, "registry");
    if (!path) return CLI_USAGE;
    cli_opts o;
    int rc = cli_opts_new(&o, cmd);
    if (!rc) rc = cli_args_apply(a, cmd, o.h, o.n);
    herd_registry *reg = NULL;
    herd_frame *f = NULL;
    if (!rc) rc = cli_open_registry(path, 0, &reg);
    if (!rc) rc = cli_print(herd_registry_search(reg, cli_struct(&o, "search"), &f), &f,
                            "registry search");
    herd_registry_free(reg);
    cli_opts_free(&o);
    return rc;
}

static int cmd_registry_runs(const cli_command *cmd, cli_args *a)
{
    herd_registry *reg = NULL;
    herd_frame *f = NULL;
    int rc = cli_reg_read(cmd, a, &reg);
    if (!rc) rc = cli_print(herd_registry_runs(reg, &f), &f, "registry runs");
    herd_registry_free(reg);
    return rc;
}

/* --deep (the "check" options) also validates every stored model. */
static int cmd_registry_check(const cli_command *cmd, cli_args *a)
{
    const char *path = cli_flag_need(a, cmd->name, "registry");
    if (!path) return CLI_USAGE;
    cli_opts o;
    int rc = cli_opts_new(&o, cmd);
    if (!rc) rc = cli_args_apply(a, cmd, o.h, o.n);
    herd_registry *reg = NULL;
    herd_frame *f = NULL;
    if (!rc) rc = cli_open_registry(path, 0, &reg);
    if (!rc) {
        int r = herd_registry_check_with(reg, cli_struct(&o, "check"), &f);
        if (f) cli_frame_out(f, NULL);
        if (r) rc = cli_fail("registry check");
        else if (!cli_quiet) fprintf(stderr, "herd: %s: no problems\n", herd_registry_path(reg));
    }
    herd_frame_free(f);
    herd_registry_free(reg);
    cli_opts_free(&o);
    return rc;
}

static int cmd_registry_gc(const cli_command *cmd, cli_args *a)
{
    const char *path = cli_flag_need(a, cmd->name, "registry");
    if (!path) return CLI_USAGE;
    int rc = cli_args_apply(a, cmd, NULL, 0);
    herd_registry *reg = NULL;
    uint64_t freed = 0;
    if (!rc) rc = cli_open_registry(path, 0, &reg);
    if (!rc && herd_registry_gc(reg, &freed)) rc = cli_fail("registry gc");
    if (!rc) printf(cli_json ? "{\"reclaimed_bytes\":%llu}\n" : "reclaimed %llu bytes\n",
                    (unsigned long long)freed);
    herd_registry_free(reg);
    return rc;
}

static int cmd_registry_rollback(const cli_command *cmd, cli_args *a)
{
    const char *path = cli_flag_need(a, cmd->name, "registry");
    const char *family = path ? cli_flag_need(a, cmd->name, "family") : NULL;
    if (!family) return CLI_USAGE;
    const char *group = cli_flag_get(a, "group"), *alias = cli_flag_get(a, "alias");
    const char *reason = cli_flag_get(a, "reason");
    int rc = cli_args_apply(a, cmd, NULL, 0);
    herd_registry *reg = NULL;
    herd_frame *f = NULL;
    if (!rc) rc = cli_open_registry(path, 0, &reg);
    if (!rc) rc = cli_print(herd_registry_rollback(reg, family, group, alias, reason, &f), &f,
                            "registry rollback");
    herd_registry_free(reg);
    return rc;
}

static int cmd_registry_copy(const cli_command *cmd, cli_args *a)
{
    const char *from = cli_flag_need(a, cmd->name, "from");
    const char *to = from ? cli_flag_need(a, cmd->name, "to") : NULL;
    if (!to) return CLI_USAGE;
    cli_opts o;
    int rc = cli_opts_new(&o, cmd);
    if (!rc) rc = cli_args_apply(a, cmd, o.h, o.n);
    herd_registry *src = NULL, *dst = NULL;
    herd_frame *f = NULL;
    if (!rc) rc = cli_open_registry(from, 0, &src);
    if (!rc) rc = cli_open_registry(to, 1, &dst);
    if (!rc) rc = cli_print(herd_registry_copy(src, dst, cli_struct(&o, "copy"), &f), &f,
                            "registry copy");
    herd_registry_free(dst);
    herd_registry_free(src);
    cli_opts_free(&o);
    return rc;
}

/* ---- job ------------------------------------------------------------------------------ */

/* Read a whole job file, bounded by the job size limit. */
static char *cli_read_job(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "herd: %s: cannot open the job file: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CLI_JOB_MAX_BYTES + 2);
    *len = buf ? fread(buf, 1, CLI_JOB_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf) fprintf(stderr, "herd: out of memory\n");
    return buf;
}

/* A job's paths (data, registries) are relative to the job file's folder. */
static char *cli_job_path(const char *job_path, const char *data)
{
    const char *slash = strrchr(job_path, '/');
    size_t dir = data[0] == '/' || !slash ? 0 : (size_t)(slash - job_path) + 1;
    char *p = malloc(dir + strlen(data) + 1);
    if (p) {
        memcpy(p, job_path, dir);
        strcpy(p + dir, data);
    }
    return p;
}

static cli_job *cli_job_load(const char *path, const char *target)
{
    size_t len;
    char *bytes = cli_read_job(path, &len);
    if (!bytes) return NULL;
    char err[2048];
    cli_job *j = cli_job_parse(bytes, len, path, target, err, sizeof err);
    free(bytes);
    if (!j) fprintf(stderr, "herd: %s\n", err);
    return j;
}

static int cmd_job_validate(const cli_command *cmd, cli_args *a)
{
    if (a->n_pos != 1) return cli_usage(cmd->name, "give one job file");
    int rc = cli_args_apply(a, cmd, NULL, 0);
    if (rc) return rc;
    cli_job *j = cli_job_load(a->pos[0], NULL);
    if (!j) return CLI_ERROR;
    if (cli_json) {
        printf("{\"valid\":true,\"family\":\"%s\",\"targets\":[", cli_job_family(j));
        for (size_t i = 0; i < cli_job_target_count(j); i++)
            printf("%s\"%s\"", i ? "," : "", cli_job_target_name(j, i));
        printf("]}\n");
    } else {
        printf("%s: valid (family %s, %zu target%s", a->pos[0], cli_job_family(j),
               cli_job_target_count(j), cli_job_target_count(j) == 1 ? "" : "s");
        for (size_t i = 0; i < cli_job_target_count(j); i++)
            printf("%s%s", i ? ", " : ": ", cli_job_target_name(j, i));
        printf(")\n");
    }
    cli_job_free(j);
    return CLI_OK;
}

static int cmd_job_run(const cli_command *cmd, cli_args *a)
{
    if (a->n_pos != 1) return cli_usage(cmd->name, "give one job file");
    const char *target = cli_flag_need(a, cmd->name, "target");
    if (!target) return CLI_USAGE;
    const char *out = cli_flag_get(a, "out"), *run_id = cli_flag_get(a, "run_id");
    const char *data_flag = cli_flag_get(a, "data"), *reg_flag = cli_flag_get(a, "registry");
    int fail_on_reject = cli_flag_on(a, "fail_on_reject");
    cli_opts o;
    int rc = cli_opts_new(&o, cmd);
    if (!rc) rc = cli_args_apply(a, cmd, o.h, o.n);
    if (!rc) rc = cli_apply_progress(&o);
    cli_job *j = rc ? NULL : cli_job_load(a->pos[0], target);
    if (!rc && !j) rc = CLI_ERROR;
    if (!rc && (run_id || cli_job_run_id(j)) &&
        herd_options_set(cli_job_cycle(j), "run_id", run_id ? run_id : cli_job_run_id(j)))
        rc = cli_fail("--run-id");
    char *data = rc ? NULL
               : data_flag ? strdup(data_flag)
                           : cli_job_path(a->pos[0], cli_job_data(j));
    char *reg = rc ? NULL
              : reg_flag ? strdup(reg_flag)
                         : cli_job_path(a->pos[0], cli_job_registry(j));
    if (!rc && (!data || !reg)) rc = cli_fail("out of memory");
    if (!rc)
        rc = cli_run_cycle(data, cli_job_keys(j), reg, cli_job_fit(j),
                           cli_job_cycle(j), cli_opts_of(&o, "apply"), out ? out : "",
                           fail_on_reject);
    free(data);
    free(reg);
    cli_job_free(j);
    cli_opts_free(&o);
    return rc;
}

/* ---- report ------------------------------------------------------------------------------ */

static int cmd_report(const cli_command *cmd, cli_args *a)
{
    const char *path = cli_flag_need(a, cmd->name, "registry");
    const char *family = path ? cli_flag_need(a, cmd->name, "family") : NULL;
    const char *out = family ? cli_flag_need(a, cmd->name, "out") : NULL;
    if (!out) return CLI_USAGE;
    int rc = cli_args_apply(a, cmd, NULL, 0);
    herd_registry *reg = NULL;
    if (!rc) rc = cli_open_registry(path, 0, &reg);
    char err[1024];
    if (!rc && cli_report_write(reg, family, out, err, sizeof err)) {
        fprintf(stderr, "herd: report: %s\n", err);
        rc = CLI_ERROR;
    }
    if (!rc && !cli_quiet) fprintf(stderr, "herd: report written to %s\n", out);
    herd_registry_free(reg);
    return rc;
}

/* ---- the table ------------------------------------------------------------------------------ */

static const char *const ops_fit[] = {"fit", "apply", NULL};
static const char *const ops_cycle[] = {"fit", "cycle", "apply", NULL};
static const char *const ops_predict[] = {"registry_predict", "apply", NULL};
static const char *const ops_search[] = {"search", NULL};
static const char *const ops_copy[] = {"copy", NULL};
static const char *const ops_check[] = {"check", NULL};
static const char *const ops_apply[] = {"apply", NULL};

static const cli_flag_doc flags_fit[] = {
    {"data", "FILE", "the CSV to train on"},
    {"keys", "A,B", "the key columns that define the groups"},
    {"out", "FILE", "write the fit report there (default: stdout)"},
    {"registry", "DIR", "also register every trained model there"},
    {"family", "NAME", "the family to register under (with --registry)"},
    {"alias", "NAME", "point this alias at each new version (with --registry)"},
    {"run-id", "NAME", "the run recorded with each version (with --registry)"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_cycle[] = {
    {"data", "FILE", "the CSV: history including the holdout periods"},
    {"keys", "A,B", "the key columns that define the groups"},
    {"registry", "DIR", "the registry (created if missing)"},
    {"out", "FILE", "write the decisions there (default: stdout)"},
    {"fail-on-reject", NULL, "exit 3 when the promotion is refused or no challenger won"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_predict[] = {
    {"data", "FILE", "the CSV of rows to predict"},
    {"keys", "A,B", "the key columns that define the groups"},
    {"registry", "DIR", "the registry"},
    {"out", "FILE", "write the rows with their predictions there (default: stdout)"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_export[] = {
    {"registry", "DIR", "the registry"},
    {"out", "FILE", "where to write the model"},
    {"format", "FMT", "artifact (default), json or ubj (XGBoost's own formats)"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_import[] = {
    {"registry", "DIR", "the registry (created if missing)"},
    {"family", "NAME", "the family"},
    {"group", "KEY", "the group key"},
    {"alias", "NAME", "point this alias at the new version"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_reg[] = {{"registry", "DIR", "the registry"}, {NULL, NULL, NULL}};
static const cli_flag_doc flags_ls[] = {
    {"registry", "DIR", "the registry"},
    {"family", "NAME", "list this family's groups (default: the families)"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_history[] = {
    {"registry", "DIR", "the registry"},
    {"family", "NAME", "the family"},
    {"group", "KEY", "one group (default: every group)"},
    {"alias", "NAME", "one alias (default: every alias)"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_rollback[] = {
    {"registry", "DIR", "the registry"},
    {"family", "NAME", "the family"},
    {"group", "KEY", "one group (default: undo the family's last promotion)"},
    {"alias", "NAME", "the alias (default champion)"},
    {"reason", "TEXT", "recorded in the alias history"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_copy[] = {
    {"from", "DIR", "the source registry (read only)"},
    {"to", "DIR", "the destination registry (created if missing)"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_validate[] = {{NULL, NULL, NULL}};
static const cli_flag_doc flags_job_run[] = {
    {"target", "NAME", "the job's target to run (dev, staging, prod...)"},
    {"data", "FILE", "read this CSV instead of the job's data"},
    {"registry", "DIR", "use this registry instead of the target's"},
    {"run-id", "NAME", "the run id (default: the job's, else derived from the data)"},
    {"out", "FILE", "write the decisions there (default: the summary only)"},
    {"fail-on-reject", NULL, "exit 3 when the promotion is refused or no challenger won"},
    {NULL, NULL, NULL}};
static const cli_flag_doc flags_report[] = {
    {"registry", "DIR", "the registry"},
    {"family", "NAME", "the family"},
    {"out", "FILE", "the HTML file to write"},
    {NULL, NULL, NULL}};

const cli_command cli_commands[] = {
    {"fit", "--data FILE --keys A,B --features X,Y --label L [OPTIONS]",
     "Train one XGBoost model per group; print the fit report, optionally register the models.",
     flags_fit, ops_fit, cmd_fit},
    {"cycle", "--data FILE --keys A,B --registry DIR --family F --run-id R [OPTIONS]",
     "The weekly cycle: hold out, fit, register challengers, compare with champions, promote.",
     flags_cycle, ops_cycle, cmd_cycle},
    {"predict", "--data FILE --keys A,B --registry DIR --family F [--out FILE]",
     "Predict every row with its group's model at an alias (CSV in, CSV out).", flags_predict,
     ops_predict, cmd_predict},
    {"export", "URI --registry DIR --out FILE [--format artifact|json|ubj]",
     "Write one model of the registry to a file.", flags_export, NULL, cmd_export},
    {"import", "FILE --registry DIR --family F --group KEY [--alias NAME]",
     "Add an artifact or an XGBoost model file to the registry as a new version.", flags_import,
     NULL, cmd_import},
    {"registry ls", "--registry DIR [--family F]", "List the families, or a family's groups.",
     flags_ls, NULL, cmd_registry_ls},
    {"registry show", "URI --registry DIR", "Print a version's metadata (JSON).", flags_reg, NULL,
     cmd_registry_show},
    {"registry history", "--registry DIR --family F [--group KEY] [--alias NAME]",
     "Alias moves, oldest first, with reasons and details.", flags_history, NULL,
     cmd_registry_history},
    {"registry search", "--registry DIR [OPTIONS]",
     "Versions by family, group glob, tag, metric range, alias.", flags_reg, ops_search,
     cmd_registry_search},
    {"registry runs", "--registry DIR", "The runs with their params and summary.", flags_reg,
     NULL, cmd_registry_runs},
    {"registry gc", "--registry DIR", "Reclaim the space of archived versions.", flags_reg, NULL,
     cmd_registry_gc},
    {"registry check", "--registry DIR [--deep]",
     "Verify every record, index and artifact; --deep also validates every model.", flags_reg,
     ops_check, cmd_registry_check},
    {"registry rollback", "--registry DIR --family F [--group KEY] [--alias NAME]",
     "Move an alias back to where it pointed before its last move.", flags_rollback, NULL,
     cmd_registry_rollback},
    {"registry copy", "--from DIR --to DIR --family F [--alias champion]",
     "Carry a family's models at an alias to another registry, with history and lineage.",
     flags_copy, ops_copy, cmd_registry_copy},
    {"job validate", "FILE", "Check a job file (every target) without running it.",
     flags_validate, NULL, cmd_job_validate},
    {"job run", "FILE --target NAME [--fail-on-reject]",
     "Run a job file's weekly cycle on one target's registry.", flags_job_run, ops_apply,
     cmd_job_run},
    {"report", "--registry DIR --family F --out FILE.html",
     "Write a self-contained HTML report of a family's models and decisions.", flags_report, NULL,
     cmd_report},
};
const size_t cli_n_commands = N_OF(cli_commands);
