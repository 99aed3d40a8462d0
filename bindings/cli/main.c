/* main.c -- the herd program: finds the subcommand, reads the global
 * flags (--json, --quiet, --help), installs the Ctrl-C handler and runs
 * it.  Exit codes: cli.h and docs/cli.md. */

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void cli_overview(FILE *f)
{
    fprintf(f, "usage: herd COMMAND [ARGS] [--json] [--quiet]\n\n"
               "herd %s: one XGBoost model per group, an embedded registry, champion/"
               "challenger.\n\ncommands:\n", herd_version_string());
    for (size_t i = 0; i < cli_n_commands; i++)
        fprintf(f, "  %-18s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "\n`herd COMMAND --help` lists a command's flags and options.\n"
               "exit codes: 0 success, 1 error, 2 usage, 3 rejected (--fail-on-reject)\n");
}

/* The command named by argv[1] (and argv[2] for "registry" and "job");
 * *used gets how many words it took. */
static const cli_command *cli_find(int argc, char **argv, int *used)
{
    for (size_t i = 0; i < cli_n_commands; i++) {
        const char *name = cli_commands[i].name, *space = strchr(name, ' ');
        if (!space && !strcmp(argv[1], name)) {
            *used = 1;
            return &cli_commands[i];
        }
        if (space && argc > 2 && !strncmp(argv[1], name, (size_t)(space - name)) &&
            !argv[1][space - name] && !strcmp(argv[2], space + 1)) {
            *used = 2;
            return &cli_commands[i];
        }
    }
    return NULL;
}

static int cli_unknown_command(int argc, char **argv)
{
    const char *names[64];
    char buf[64][32];
    size_t n = 0;
    int group = argc > 2 && (!strcmp(argv[1], "registry") || !strcmp(argv[1], "job"));
    for (size_t i = 0; i < cli_n_commands && n < 64; i++) {
        const char *name = cli_commands[i].name, *space = strchr(name, ' ');
        if (group && space && !strncmp(name, argv[1], (size_t)(space - name)))
            names[n++] = space + 1;
        else if (!group) {
            snprintf(buf[n], sizeof buf[n], "%.*s", space ? (int)(space - name) : 31, name);
            names[n] = buf[n];
            n++;
        }
    }
    const char *word = group ? argv[2] : argv[1];
    const char *best = cli_closest(word, names, n);
    if (best)
        fprintf(stderr, "herd: unknown command '%s%s%s'; did you mean '%s%s%s'?\n",
                group ? argv[1] : "", group ? " " : "", word, group ? argv[1] : "",
                group ? " " : "", best);
    else
        fprintf(stderr, "herd: unknown command '%s%s%s' (see herd --help)\n",
                group ? argv[1] : "", group ? " " : "", word);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        cli_overview(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("herd %s\n", herd_version_string());
        return CLI_OK;
    }
    int used = 0;
    const cli_command *cmd = cli_find(argc, argv, &used);
    if (!cmd) return cli_unknown_command(argc, argv);
    cli_args args;
    int rc = cli_args_parse(cmd, argc - 1 - used, argv + 1 + used, &args);
    if (rc) return rc;
    if (cli_flag_on(&args, "help")) {
        cli_help(stdout, cmd);
        cli_args_free(&args);
        return CLI_OK;
    }
    if ((rc = cli_args_check(cmd, &args))) {
        cli_args_free(&args);
        return rc;
    }
    cli_json = cli_flag_on(&args, "json");
    cli_quiet = cli_flag_on(&args, "quiet");
    cli_signals_install();
    rc = cmd->run(cmd, &args);
    cli_args_free(&args);
    return rc;
}
