/* host.c -- a host program that links herd the way docs/getting-started.md
 * says, shared and static (tests/tools/check-link.py builds and runs it).
 *
 * It trains one small model per group and predicts with them, so that
 * herd's own dependencies (XGBoost, cJSON, zlib, libm, threads) are really
 * linked, and it defines functions named like herd's internal ones, as any
 * host may: linking libherd.a must not clash with them, because the
 * installed archive keeps its internal symbols local. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <herd.h>

/* A host's own functions that share names with herd internals. */
int hd_error(const char *what);
void *hd_malloc(size_t n);
int hd_log(const char *line);

int hd_error(const char *what)
{
    return fprintf(stderr, "host: %s: %s\n", what, herd_last_error()) < 0 ? -2 : -1;
}

void *hd_malloc(size_t n)
{
    return calloc(1, n);
}

int hd_log(const char *line)
{
    return printf("host: %s\n", line) < 0;
}

/* Two groups, y = 2x (+ 10 in group b), 40 rows each. */
static char *make_csv(size_t *len)
{
    const size_t cap = 4096;
    char *csv = hd_malloc(cap);
    if (!csv) return NULL;
    size_t n = (size_t)snprintf(csv, cap, "group,x,y\n");
    for (int i = 0; i < 80; i++) {
        int b = i >= 40;
        double x = (double)(i % 40);
        n += (size_t)snprintf(csv + n, cap - n, "%s,%g,%g\n", b ? "b" : "a", x,
                              2.0 * x + (b ? 10.0 : 0.0));
    }
    *len = n;
    return csv;
}

int main(void)
{
    static const char *const features[] = {"x"};
    static const char *const keys[] = {"group"};
    herd_frame *frame = NULL, *pred = NULL;
    herd_groups *groups = NULL;
    herd_fit_result *models = NULL;
    size_t len = 0, without = 0;
    int rc = 1;
    char *csv = make_csv(&len);
    if (!csv) return hd_log("out of memory"), 1;

    printf("herd %s\n", herd_version_string());
    if (herd_frame_read_csv_buffer(csv, len, "host.csv", NULL, &frame))
        return hd_error("herd_frame_read_csv_buffer"), free(csv), 1;
    if (herd_groups_new(frame, keys, 1, &groups)) {
        hd_error("herd_groups_new");
        goto done;
    }
    herd_fit_options fo;
    if (herd_fit_options_init(&fo, HERD_FIT_OPTIONS_VERSION)) {
        hd_error("herd_fit_options_init");
        goto done;
    }
    fo.features = features;
    fo.n_features = 1;
    fo.label = "y";
    fo.rounds = 20;
    if (herd_fit(groups, &fo, NULL, &models)) {
        hd_error("herd_fit");
        goto done;
    }
    if (herd_predict(groups, models, NULL, &pred, &without)) {
        hd_error("herd_predict");
        goto done;
    }
    size_t col = 0;
    double first = NAN, last = NAN;
    if (herd_frame_find(pred, "prediction", &col) ||
        herd_frame_get_double(pred, col, 0, &first) ||
        herd_frame_get_double(pred, col, herd_frame_row_count(pred) - 1, &last)) {
        hd_error("reading the predictions");
        goto done;
    }
    printf("models %zu, rows without a model %zu, prediction a[0] %.2f, b[39] %.2f\n",
           herd_fit_result_count(models), without, first, last);
    /* Trees fit the training rows closely: a[0] is near 0, b[39] near 88. */
    rc = !(herd_fit_result_count(models) == 2 && without == 0 && fabs(first) < 5 &&
           fabs(last - 88.0) < 10);
    if (rc) hd_log("the predictions are not what the data says");
    else printf("host: ok\n");
done:
    herd_frame_free(pred);
    herd_fit_result_free(models);
    herd_groups_free(groups);
    herd_frame_free(frame);
    free(csv);
    return rc;
}
