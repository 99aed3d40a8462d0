/* args.c -- the command line: flags parsed, mapped onto options by name
 * (herd_options_set), unknown ones answered with the closest name, and
 * --help generated from the library's options table. */

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Flags every command takes (main.c reads them). */
static const cli_flag_doc cli_global_flags[] = {
    {"json", NULL, "print results as JSON instead of CSV / text"},
    {"quiet", NULL, "no progress bar and no notes on stderr"},
    {"help", NULL, "show this help"},
    {NULL, NULL, NULL}};

/* Flag names are compared with '-' and '_' equal: --run-id is --run_id. */
static void cli_normalise(char *name)
{
    for (char *p = name; *p; p++)
        if (*p == '-') *p = '_';
}

static const cli_flag_doc *cli_flag_doc_find(const cli_flag_doc *docs, const char *name)
{
    for (; docs && docs->name; docs++) {
        char n[64];
        snprintf(n, sizeof n, "%s", docs->name);
        cli_normalise(n);
        if (!strcmp(n, name)) return docs;
    }
    return NULL;
}

static int cli_is_switch(const cli_command *cmd, const char *name)
{
    const cli_flag_doc *d = cli_flag_doc_find(cmd->flags, name);
    if (!d) d = cli_flag_doc_find(cli_global_flags, name);
    return d && !d->arg;
}

int cli_args_parse(const cli_command *cmd, int argc, char **argv, cli_args *out)
{
    memset(out, 0, sizeof *out);
    out->flags = calloc((size_t)argc + 1, sizeof *out->flags);
    out->pos = calloc((size_t)argc + 1, sizeof *out->pos);
    if (!out->flags || !out->pos) {
        fprintf(stderr, "herd: out of memory\n");
        return CLI_ERROR;
    }
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2]) {
            out->pos[out->n_pos++] = a;
            continue;
        }
        char *name = a + 2, *eq = strchr(name, '=');
        if (eq) *eq = '\0';
        cli_normalise(name);
        const char *value = eq ? eq + 1 : NULL;
        if (!eq && !cli_is_switch(cmd, name) && i + 1 < argc && strncmp(argv[i + 1], "--", 2))
            value = argv[++i];
        out->flags[out->n_flags++] = (cli_flag){.name = name, .value = value};
    }
    return CLI_OK;
}

void cli_args_free(cli_args *args)
{
    free(args->flags);
    free(args->pos);
    memset(args, 0, sizeof *args);
}

const char *cli_flag_get(cli_args *args, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < args->n_flags; i++)
        if (!strcmp(args->flags[i].name, name)) {
            args->flags[i].used = 1;
            v = args->flags[i].value ? args->flags[i].value : "";
        }
    return v;
}

int cli_flag_on(cli_args *args, const char *name)
{
    const char *v = cli_flag_get(args, name);
    return v && strcmp(v, "false") && strcmp(v, "0");
}

const char *cli_flag_need(cli_args *args, const char *cmd, const char *name)
{
    const char *v = cli_flag_get(args, name);
    if (v && *v) return v;
    char shown[64];
    snprintf(shown, sizeof shown, "%s", name);
    for (char *p = shown; *p; p++)
        if (*p == '_') *p = '-';
    cli_usage(cmd, "--%s is required%s", shown, v ? " (give it a value)" : "");
    return NULL;
}

char **cli_split_list(const char *text, size_t *n)
{
    size_t len = strlen(text), parts = 1;
    for (const char *p = text; *p; p++) parts += *p == ',';
    char **out = malloc((parts + 1) * sizeof *out + len + 1);
    if (!out) return NULL;
    char *buf = (char *)(out + parts + 1);
    memcpy(buf, text, len + 1);
    size_t k = 0;
    for (char *tok = buf;;) {
        char *comma = strchr(tok, ',');
        if (comma) *comma = '\0';
        if (*tok) out[k++] = tok;
        if (!comma) break;
        tok = comma + 1;
    }
    out[k] = NULL;
    *n = k;
    return out;
}

/* ---- the options table ------------------------------------------------------ */

/* The table row of option `name` of `operation` ("compare.metric" of
 * "cycle" is "metric" of "compare"); its type in *type (static strings of
 * the frame, valid while *table lives). */
static int cli_option_row(const char *operation, const char *name, herd_frame **table,
                          size_t *row)
{
    const char *dot = strchr(name, '.');
    if (dot) {
        char parent[64];
        snprintf(parent, sizeof parent, "%.*s", (int)(dot - name), name);
        herd_frame *t = NULL;
        size_t r;
        if (cli_option_row(operation, parent, &t, &r)) return -1;
        size_t tc;
        const char *type = NULL;
        herd_frame_find(t, "type", &tc);
        herd_frame_get_string(t, tc, r, &type);
        int nested = type && !strcmp(type, "options");
        herd_frame_free(t);
        if (!nested) return -1;
        return cli_option_row(parent, dot + 1, table, row);
    }
    if (herd_options_table(operation, table)) return -1;
    size_t nc;
    herd_frame_find(*table, "name", &nc);
    for (size_t r = 0; r < herd_frame_row_count(*table); r++) {
        const char *n = NULL;
        herd_frame_get_string(*table, nc, r, &n);
        if (n && !strcmp(n, name)) {
            *row = r;
            return 0;
        }
    }
    herd_frame_free(*table);
    *table = NULL;
    return -1;
}

static const char *cli_cell(const herd_frame *f, const char *col, size_t row)
{
    size_t c;
    const char *s = NULL;
    if (!herd_frame_find(f, col, &c)) herd_frame_get_string(f, c, row, &s);
    return s;
}

/* Set one flag onto handle `h`, whose operation has the option. */
static int cli_set_option(herd_options *h, const char *cmd, const char *name, const char *type,
                          const char *value)
{
    int rc;
    if (!strcmp(type, "pointer") || !strcmp(type, "progress") || !strcmp(type, "options"))
        return cli_usage(cmd, "--%s cannot be set from the command line", name);
    if (!value && strcmp(type, "bool"))
        return cli_usage(cmd, "--%s needs a value (%s)", name, type);
    if (!strcmp(type, "string_list")) {
        size_t n;
        char **list = cli_split_list(value, &n);
        if (!list) return cli_fail("out of memory");
        rc = herd_options_set_strings(h, name, (const char *const *)list, n);
        free(list);
    } else if (strstr(type, "_map")) {
        /* --params max_depth=4,eta=0.1 (repeatable) */
        size_t n;
        char **list = cli_split_list(value, &n);
        if (!list) return cli_fail("out of memory");
        rc = HERD_OK;
        for (size_t i = 0; !rc && i < n; i++) {
            char *eq = strchr(list[i], '=');
            if (!eq) {
                free(list);
                return cli_usage(cmd, "--%s takes KEY=VALUE pairs separated by commas; "
                                 "got '%s'", name, value);
            }
            *eq = '\0';
            rc = herd_options_set_entry(h, name, list[i], eq + 1);
        }
        free(list);
    } else {
        rc = herd_options_set(h, name, value ? value : "true");
    }
    if (rc) {
        fprintf(stderr, "herd %s: --%s: %s\n", cmd, name, herd_last_error());
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* Names for "did you mean": the command's flags, the global ones, and
 * every option of its operations, nested ones as "compare.metric". */
typedef struct cli_names {
    const char *names[512];
    size_t n;
    herd_frame *tables[16];
    size_t n_tables;
    char pool[8192]; /* the nested names' text */
    size_t used;
} cli_names;

static void cli_names_add_table(cli_names *k, const char *operation, const char *prefix)
{
    herd_frame *t = NULL;
    if (k->n_tables == 16 || herd_options_table(operation, &t)) return;
    k->tables[k->n_tables++] = t;
    for (size_t r = 0; r < herd_frame_row_count(t) && k->n < 512; r++) {
        const char *name = cli_cell(t, "name", r), *type = cli_cell(t, "type", r);
        if (!name) continue;
        if (type && !strcmp(type, "options")) {
            char nested[64];
            snprintf(nested, sizeof nested, "%s%s.", prefix, name);
            cli_names_add_table(k, name, nested);
            continue;
        }
        if (!*prefix) {
            k->names[k->n++] = name;
            continue;
        }
        int len = snprintf(k->pool + k->used, sizeof k->pool - k->used, "%s%s", prefix, name);
        if (len < 0 || (size_t)len >= sizeof k->pool - k->used) return;
        k->names[k->n++] = k->pool + k->used;
        k->used += (size_t)len + 1;
    }
}

static void cli_names_fill(cli_names *k, const cli_command *cmd)
{
    memset(k, 0, sizeof *k);
    for (const cli_flag_doc *d = cmd->flags; d && d->name; d++) k->names[k->n++] = d->name;
    for (const cli_flag_doc *d = cli_global_flags; d->name; d++) k->names[k->n++] = d->name;
    for (const char *const *op = cmd->operations; op && *op; op++) cli_names_add_table(k, *op, "");
}

static int cli_unknown_flag(const cli_command *cmd, const char *name)
{
    cli_names *k = malloc(sizeof *k);
    if (!k) return cli_fail("out of memory");
    cli_names_fill(k, cmd);
    const char **names = k->names;
    size_t n = k->n, nt = k->n_tables;
    herd_frame **tables = k->tables;
    char want[128];
    snprintf(want, sizeof want, "%s", name);
    const char *best = cli_closest(want, names, n);
    char shown[128] = "";
    if (best) {
        snprintf(shown, sizeof shown, "%s", best);
        /* Command flags are shown with '-', options as the table names them. */
        if (cli_flag_doc_find(cmd->flags, best) || cli_flag_doc_find(cli_global_flags, best))
            for (char *p = shown; *p; p++)
                if (*p == '_') *p = '-';
    }
    int rc = best ? cli_usage(cmd->name, "unknown flag --%s; did you mean --%s?", name, shown)
                  : cli_usage(cmd->name, "unknown flag --%s (see herd %s --help)", name,
                              cmd->name);
    for (size_t i = 0; i < nt; i++) herd_frame_free(tables[i]);
    free(k);
    return rc;
}

int cli_args_check(const cli_command *cmd, const cli_args *args)
{
    for (size_t i = 0; i < args->n_flags; i++) {
        const char *name = args->flags[i].name;
        if (cli_flag_doc_find(cmd->flags, name) || cli_flag_doc_find(cli_global_flags, name))
            continue;
        int found = 0;
        for (const char *const *op = cmd->operations; !found && op && *op; op++) {
            herd_frame *t = NULL;
            size_t row;
            if (!cli_option_row(*op, name, &t, &row)) found = 1;
            herd_frame_free(t);
        }
        if (!found) return cli_unknown_flag(cmd, name);
    }
    return CLI_OK;
}

int cli_args_apply(cli_args *args, const cli_command *cmd, herd_options **handles,
                   size_t n_handles)
{
    for (size_t i = 0; i < args->n_flags; i++) {
        cli_flag *f = &args->flags[i];
        if (f->used) continue;
        if (cli_flag_doc_find(cmd->flags, f->name) ||
            cli_flag_doc_find(cli_global_flags, f->name)) {
            f->used = 1;
            continue;
        }
        int done = 0;
        for (size_t h = 0; !done && h < n_handles; h++) {
            if (!handles[h]) continue;
            herd_frame *t = NULL;
            size_t row;
            if (cli_option_row(herd_options_operation(handles[h]), f->name, &t, &row)) continue;
            const char *type = cli_cell(t, "type", row);
            int rc = cli_set_option(handles[h], cmd->name, f->name, type ? type : "string",
                                    f->value);
            herd_frame_free(t);
            if (rc) return rc;
            done = 1;
        }
        if (!done) return cli_unknown_flag(cmd, f->name);
        f->used = 1;
    }
    return CLI_OK;
}

/* ---- help ---------------------------------------------------------------------- */

static void cli_help_flags(FILE *f, const cli_flag_doc *d)
{
    for (; d && d->name; d++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
        fprintf(f, "  %-26s %s\n", left, d->doc);
    }
}

static void cli_help_operation(FILE *f, const char *operation, const char *prefix)
{
    herd_frame *t = NULL;
    if (herd_options_table(operation, &t)) return;
    for (size_t r = 0; r < herd_frame_row_count(t); r++) {
        const char *name = cli_cell(t, "name", r), *type = cli_cell(t, "type", r);
        const char *def = cli_cell(t, "default", r), *doc = cli_cell(t, "doc", r);
        const char *values = cli_cell(t, "values", r);
        if (!name || !type || !strcmp(type, "pointer") || !strcmp(type, "progress")) continue;
        if (!strcmp(type, "options")) {
            char nested[64];
            snprintf(nested, sizeof nested, "%s%s.", prefix, name);
            cli_help_operation(f, name, nested);
            continue;
        }
        const char *arg = !strcmp(type, "string_list") ? "A,B,..."
                          : strstr(type, "_map")       ? "K=V,..."
                          : values                      ? values
                                                        : type;
        char left[96];
        snprintf(left, sizeof left, "--%s%s %s", prefix, name, arg);
        fprintf(f, "  %-26s %s", left, doc ? doc : "");
        if (def && *def && strcmp(def, "[]") && strcmp(def, "{}")) fprintf(f, " (default %s)", def);
        fputc('\n', f);
    }
    herd_frame_free(t);
}

void cli_help(FILE *f, const cli_command *cmd)
{
    fprintf(f, "usage: herd %s %s\n\n%s\n\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->flags && cmd->flags->name) {
        fprintf(f, "flags:\n");
        cli_help_flags(f, cmd->flags);
    }
    cli_help_flags(f, cli_global_flags);
    for (const char *const *op = cmd->operations; op && *op; op++) {
        fprintf(f, "\noptions of %s (libherd's options table, herd_%s_options):\n", *op, *op);
        cli_help_operation(f, *op, "");
    }
    fprintf(f, "\nexit codes: 0 success, 1 error, 2 usage, 3 rejected (--fail-on-reject)\n");
}
