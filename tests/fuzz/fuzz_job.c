/* fuzz_job.c -- libFuzzer target for the herd program's job-file parser
 * (cli_job_parse, bindings/cli/job.c): JSON with every fit and cycle
 * option by name, targets with their overrides.
 *
 * The input is the file; a first line "#target NAME" (stripped) also asks
 * for that target.  Any file may be refused, with a message; none may
 * crash or leak, and a job that parses answers every accessor. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char target[64];
    const char *want = NULL;
    const char *text = (const char *)data;
    static const char tag[] = "#target ";
    if (size > sizeof tag - 1 && memcmp(data, tag, sizeof tag - 1) == 0) {
        const char *nl = memchr(text, '\n', size);
        size_t n = nl ? (size_t)(nl - text) - (sizeof tag - 1) : 0;
        if (nl && n < sizeof target) {
            memcpy(target, text + sizeof tag - 1, n);
            target[n] = '\0';
            want = target;
            size -= (size_t)(nl + 1 - text);
            text = nl + 1;
        }
    }
    char err[1024];
    cli_job *j = cli_job_parse(text, size, "fuzz.json", want, err, sizeof err);
    if (!j) {
        if (!err[0]) abort(); /* a refusal says why */
        return 0;
    }
    (void)cli_job_data(j);
    (void)cli_job_keys(j);
    (void)cli_job_family(j);
    (void)cli_job_registry(j);
    (void)cli_job_run_id(j);
    if (!cli_job_fit(j) || !cli_job_cycle(j)) abort();
    for (size_t i = 0; i < cli_job_target_count(j); i++)
        if (!cli_job_target_name(j, i)) abort();
    cli_job_free(j);
    return 0;
}
