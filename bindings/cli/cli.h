/* cli.h -- what the files of the herd program share.
 *
 * The program uses the public header only.  Files, by concern:
 *   main.c      the command table, global flags, help, exit codes
 *   args.c      flags: parsing, mapping onto options by name, --help
 *   closest.c   "did you mean": the closest known name
 *   output.c    frames as CSV or JSON, the progress bar, Ctrl-C
 *   commands.c  fit, cycle, predict, export, import, registry ...
 *   job.c       the job file: parsed from bytes into options handles (it
 *               needs closest.c and libherd only: a fuzz target links it)
 *   report.c    the self-contained HTML report
 */
#ifndef HERD_CLI_H
#define HERD_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <herd.h>

/* Exit codes (docs/cli.md, "Exit codes"). */
enum {
    CLI_OK = 0,
    CLI_ERROR = 1,    /* the operation failed (message on stderr) */
    CLI_USAGE = 2,    /* bad command line: unknown flag, missing argument */
    CLI_REJECTED = 3  /* --fail-on-reject: promotion refused, or no challenger won */
};

/* ---- flags ---------------------------------------------------------------- */

/* One parsed flag: --name value, --name=value, or a switch (value NULL). */
typedef struct cli_flag {
    const char *name; /* without the dashes */
    const char *value;
    int used;         /* consumed by the command */
} cli_flag;

/* A command line after the subcommand: flags and positional arguments. */
typedef struct cli_args {
    cli_flag *flags;
    size_t n_flags;
    const char **pos;
    size_t n_pos;
} cli_args;

/* A flag the command itself knows (not an option of the table). */
typedef struct cli_flag_doc {
    const char *name;
    const char *arg; /* NULL: a switch */
    const char *doc;
} cli_flag_doc;

/* A subcommand: its flags and the operations whose options it takes. */
typedef struct cli_command {
    const char *name;      /* "fit", "registry ls" */
    const char *usage;     /* after the name */
    const char *summary;
    const cli_flag_doc *flags; /* terminated by {NULL} */
    const char *const *operations; /* options-table operations, NULL-terminated */
    int (*run)(const struct cli_command *cmd, cli_args *args);
} cli_command;

/* Split argv into flags and positional arguments; the flags a command
 * takes as switches are known from `cmd`.  CLI_OK or CLI_USAGE. */
int cli_args_parse(const cli_command *cmd, int argc, char **argv, cli_args *out);
void cli_args_free(cli_args *args);

/* Every flag is a flag of the command or an option of its operations:
 * CLI_OK, or CLI_USAGE naming the closest known name. */
int cli_args_check(const cli_command *cmd, const cli_args *args);

/* The value of flag `name` (marked used), or NULL when absent. */
const char *cli_flag_get(cli_args *args, const char *name);
/* 1 when switch `name` was given. */
int cli_flag_on(cli_args *args, const char *name);
/* The value of a required flag; NULL after printing a usage error. */
const char *cli_flag_need(cli_args *args, const char *cmd, const char *name);

/* Set every flag not used yet onto the options handles (by option name:
 * --rounds 200, --params max_depth=4, --features a,b, --compare.metric
 * mae).  A flag that is no option of any handle is a usage error with the
 * closest flag or option name.  Returns CLI_OK, CLI_USAGE or CLI_ERROR. */
int cli_args_apply(cli_args *args, const cli_command *cmd, herd_options **handles,
                   size_t n_handles);

/* The closest of `names` to `word` (edit distance, ASCII case-insensitive),
 * or NULL when none is close. */
const char *cli_closest(const char *word, const char *const *names, size_t n);

/* Split "a,b,c" into a NULL-terminated array (one allocation, free()). */
char **cli_split_list(const char *text, size_t *n);

/* Print the help of a command: usage, its flags, then every option of its
 * operations from the options table (name, type, default, doc). */
void cli_help(FILE *f, const cli_command *cmd);

/* ---- output --------------------------------------------------------------- */

extern int cli_json;  /* --json: frames and results as JSON */
extern int cli_quiet; /* --quiet: no progress bar, no notes */

/* Write a frame to `path` (NULL or "-": stdout) as CSV, or as a JSON array
 * of objects with --json.  CLI_OK or CLI_ERROR (message printed). */
int cli_frame_out(const herd_frame *frame, const char *path);
/* One frame as JSON text (malloc'd), or NULL on no memory. */
char *cli_frame_json(const herd_frame *frame);

/* Print "herd: WHAT: <herd_last_error()>" and return CLI_ERROR. */
int cli_fail(const char *what);
/* Print a usage error for `cmd` and return CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The progress callback: a bar on stderr when it is a terminal (phase,
 * counts, ETA), nothing otherwise; returns nonzero after Ctrl-C. */
int cli_progress(const herd_progress *p, void *user);
/* End the bar's line, if one was drawn. */
void cli_progress_done(void);
/* Install the SIGINT/SIGTERM handler, which only sets a flag. */
void cli_signals_install(void);
/* 1 once Ctrl-C was pressed. */
int cli_interrupted(void);

/* ---- data ------------------------------------------------------------------ */

/* Read a CSV (with progress) and group it by `keys` (comma-separated). */
int cli_read_grouped(const char *path, const char *keys, herd_frame **frame,
                     herd_groups **groups);
/* Open a registry (create: 1 to create when missing). */
int cli_open_registry(const char *path, int create, herd_registry **out);

/* ---- job files ------------------------------------------------------------- */

/* Job files larger than this are refused, and so are objects with more
 * keys (params, fit...) or more targets than these. */
#define CLI_JOB_MAX_BYTES (1024u * 1024u)
#define CLI_JOB_MAX_ENTRIES 256u
#define CLI_JOB_MAX_TARGETS 64u

typedef struct cli_job cli_job;

/* Parse a job file's bytes (`name` is used in messages).  Every target's
 * overrides are checked; with `target` non-NULL the job returned has that
 * target's registry and overrides applied (an unknown target is an error
 * naming the targets).  On error returns NULL with a message naming the
 * key path ("targets.prod.registry") in err. */
cli_job *cli_job_parse(const char *bytes, size_t len, const char *name, const char *target,
                       char *err, size_t errlen);
void cli_job_free(cli_job *job);

const char *cli_job_data(const cli_job *job);     /* the CSV path, as written */
const char *cli_job_keys(const cli_job *job);     /* comma-separated key columns */
const char *cli_job_family(const cli_job *job);
const char *cli_job_registry(const cli_job *job); /* NULL without a target */
const char *cli_job_run_id(const cli_job *job);   /* NULL: not given */
herd_options *cli_job_fit(cli_job *job);          /* the "fit" options */
herd_options *cli_job_cycle(cli_job *job);        /* the "cycle" options */
/* Target names, in file order. */
size_t cli_job_target_count(const cli_job *job);
const char *cli_job_target_name(const cli_job *job, size_t i);

/* ---- report ---------------------------------------------------------------- */

/* Write the family's HTML report.  HERD_OK or an error with herd_last_error
 * unset (the message is in err). */
int cli_report_write(herd_registry *reg, const char *family, const char *path, char *err,
                     size_t errlen);

/* ---- commands ---------------------------------------------------------------- */

extern const cli_command cli_commands[];
extern const size_t cli_n_commands;

#endif
