/* output.c -- frames as CSV or JSON, messages, the progress bar and Ctrl-C. */

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

int cli_json = 0;
int cli_quiet = 0;

int cli_fail(const char *what)
{
    cli_progress_done();
    fprintf(stderr, "herd: %s: %s\n", what, herd_last_error());
    return CLI_ERROR;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "herd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_USAGE;
}

/* ---- frames ----------------------------------------------------------------- */

static void cli_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void cli_csv_cell(FILE *f, const herd_frame *frame, size_t c, size_t r)
{
    int type = herd_frame_column_type(frame, c);
    if (type == HERD_TYPE_STRING) {
        const char *s = NULL;
        if (herd_frame_get_string(frame, c, r, &s) == HERD_OK)
            *s ? cli_csv_field(f, s) : (void)fputs("\"\"", f);
    } else if (type == HERD_TYPE_INT32 || type == HERD_TYPE_INT64) {
        int64_t v;
        if (herd_frame_get_int64(frame, c, r, &v) == HERD_OK) fprintf(f, "%lld", (long long)v);
    } else {
        double v;
        if (herd_frame_get_double(frame, c, r, &v) == HERD_OK) fprintf(f, "%.17g", v);
    }
}

static int cli_frame_csv(const herd_frame *frame, FILE *f)
{
    size_t nc = herd_frame_column_count(frame), nr = herd_frame_row_count(frame);
    for (size_t c = 0; c < nc; c++) {
        if (c) fputc(',', f);
        cli_csv_field(f, herd_frame_column_name(frame, c));
    }
    fputc('\n', f);
    for (size_t r = 0; r < nr; r++) {
        for (size_t c = 0; c < nc; c++) {
            if (c) fputc(',', f);
            cli_csv_cell(f, frame, c, r);
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

/* A cell as a JSON value: numbers, strings, null for missing; a column
 * named like a JSON column ("details", "params"...) holding an object is
 * embedded as one. */
static cJSON *cli_json_cell(const herd_frame *frame, size_t c, size_t r)
{
    int type = herd_frame_column_type(frame, c);
    if (type == HERD_TYPE_STRING) {
        const char *s = NULL;
        if (herd_frame_get_string(frame, c, r, &s) != HERD_OK) return cJSON_CreateNull();
        if (s[0] == '{') {
            cJSON *o = cJSON_Parse(s);
            if (o) return o;
        }
        return cJSON_CreateString(s);
    }
    if (type == HERD_TYPE_INT32 || type == HERD_TYPE_INT64) {
        int64_t v;
        if (herd_frame_get_int64(frame, c, r, &v) != HERD_OK) return cJSON_CreateNull();
        return cJSON_CreateNumber((double)v);
    }
    double v;
    if (herd_frame_get_double(frame, c, r, &v) != HERD_OK || !isfinite(v))
        return cJSON_CreateNull();
    return cJSON_CreateNumber(v);
}

char *cli_frame_json(const herd_frame *frame)
{
    cJSON *rows = cJSON_CreateArray();
    size_t nc = herd_frame_column_count(frame), nr = herd_frame_row_count(frame);
    for (size_t r = 0; rows && r < nr; r++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        for (size_t c = 0; c < nc; c++)
            cJSON_AddItemToObject(o, herd_frame_column_name(frame, c), cli_json_cell(frame, c, r));
        cJSON_AddItemToArray(rows, o);
    }
    char *text = rows ? cJSON_PrintUnformatted(rows) : NULL;
    cJSON_Delete(rows);
    return text;
}

int cli_frame_out(const herd_frame *frame, const char *path)
{
    int to_stdout = !path || !strcmp(path, "-");
    if (!cli_json && !to_stdout) {
        if (herd_frame_write_csv(frame, path, NULL)) return cli_fail(path);
        return CLI_OK;
    }
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        fprintf(stderr, "herd: %s: cannot write: %s\n", path, strerror(errno));
        return CLI_ERROR;
    }
    int rc = 0;
    if (cli_json) {
        char *text = cli_frame_json(frame);
        rc = text ? (fputs(text, f) < 0 || fputc('\n', f) < 0) : -1;
        free(text);
    } else {
        rc = cli_frame_csv(frame, f);
    }
    if (to_stdout) rc |= fflush(f);
    else rc |= fclose(f);
    if (rc) {
        fprintf(stderr, "herd: writing %s failed\n", to_stdout ? "stdout" : path);
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* ---- Ctrl-C -------------------------------------------------------------------- */

static volatile sig_atomic_t cli_stop = 0;

/* Only sets the flag: the progress callback, on herd's calling thread,
 * answers "cancel" at its next call, and herd winds down cleanly. */
static void cli_on_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
}

void cli_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cli_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted(void) { return cli_stop != 0; }

/* ---- the progress bar ------------------------------------------------------------ */

static int cli_bar_drawn = 0;
static double cli_phase_start = 0;
static int cli_phase_index = 0;

void cli_progress_done(void)
{
    if (cli_bar_drawn) fputs("\r\033[K", stderr);
    cli_bar_drawn = 0;
}

int cli_progress(const herd_progress *p, void *user)
{
    (void)user;
    if (cli_stop) return 1;
    if (cli_quiet || !isatty(2) || p->struct_size < sizeof *p) return 0;
    if (p->phase_index != cli_phase_index) {
        cli_phase_index = p->phase_index;
        cli_phase_start = p->elapsed_s;
    }
    double done = 0, total = 0;
    char counts[64] = "";
    if (p->groups_total) {
        done = (double)p->groups_done, total = (double)p->groups_total;
        snprintf(counts, sizeof counts, "%zu/%zu groups", p->groups_done, p->groups_total);
        if (p->groups_failed) {
            size_t n = strlen(counts);
            snprintf(counts + n, sizeof counts - n, ", %zu failed", p->groups_failed);
        }
    } else if (p->bytes_total) {
        done = (double)p->bytes_done, total = (double)p->bytes_total;
        int mb = total >= 1e6;
        snprintf(counts, sizeof counts, "%.1f/%.1f %s", done / (mb ? 1e6 : 1e3),
                 total / (mb ? 1e6 : 1e3), mb ? "MB" : "kB");
    } else if (p->rows_done) {
        snprintf(counts, sizeof counts, "%zu rows", p->rows_done);
    }
    double frac = total > 0 ? done / total : 0;
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    char eta[32] = "";
    double spent = p->elapsed_s - cli_phase_start;
    if (frac > 0.02 && frac < 1 && spent > 0.5)
        snprintf(eta, sizeof eta, " ETA %.0fs", spent * (1 - frac) / frac);
    fprintf(stderr, "\r\033[K%d/%d %-10s [%s] %3.0f%% %s%s", p->phase_index, p->phase_total,
            p->phase, bar, frac * 100, counts, eta);
    fflush(stderr);
    cli_bar_drawn = 1;
    return 0;
}

/* ---- data and registries ---------------------------------------------------------- */

int cli_read_grouped(const char *path, const char *keys, herd_frame **frame,
                     herd_groups **groups)
{
    *frame = NULL;
    *groups = NULL;
    herd_csv_options co;
    herd_csv_options_init(&co, HERD_CSV_OPTIONS_VERSION);
    co.progress = cli_progress;
    int rc = herd_frame_read_csv(path, &co, frame);
    cli_progress_done();
    if (rc) return cli_fail("reading the data");
    size_t n;
    char **list = cli_split_list(keys, &n);
    if (!list) return cli_fail("out of memory");
    rc = herd_groups_new(*frame, (const char *const *)list, n, groups);
    free(list);
    if (rc) {
        herd_frame_free(*frame);
        *frame = NULL;
        return cli_fail("grouping the data");
    }
    return CLI_OK;
}

int cli_open_registry(const char *path, int create, herd_registry **out)
{
    herd_registry_options ro;
    herd_registry_options_init(&ro, HERD_REGISTRY_OPTIONS_VERSION);
    ro.create = create;
    if (herd_registry_open(path, &ro, out)) return cli_fail("opening the registry");
    return CLI_OK;
}
