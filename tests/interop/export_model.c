/* export_model.c -- trains one model with herd and writes, into DIR:
 * data.csv (the features), model.ubj and model.json (the exported model),
 * herd_pred.csv (herd's predictions).  check_xgboost.py then loads the
 * model with the xgboost Python package and compares.
 *
 * usage: export_model DIR */
#include <stdio.h>
#include <stdlib.h>

#include "herd.h"
#include "../unit/fit_data.h"

static int die(const char *what)
{
    fprintf(stderr, "export_model: %s: %s\n", what, herd_last_error());
    return 1;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "export_model: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: export_model DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    size_t sizes[1] = {400};
    fit_data d;
    fit_data_make(&d, 1, sizes, 0.3);
    herd_frame *frame = NULL, *pred = NULL;
    herd_groups *groups = NULL;
    herd_fit_result *set = NULL;
    herd_model *model = NULL;
    const char *keys[] = {"store"};
    const char *features[] = {"x0", "x1", "promo"};
    herd_fit_options o;
    herd_fit_options_init(&o, HERD_FIT_OPTIONS_VERSION);
    o.features = features;
    o.n_features = 3;
    o.label = "y";
    o.rounds = 40;
    o.early_stopping_rounds = 3; /* the export must be the sliced model */
    if (fit_data_frame(&d, &frame) || herd_groups_new(frame, keys, 1, &groups))
        return die("building the frame");
    if (herd_fit(groups, &o, NULL, &set)) return die("fit");
    if (herd_fit_result_model(set, "0", &model)) return die("getting the model");
    double *out = malloc(sizes[0] * sizeof *out);
    if (herd_model_predict(model, frame, NULL, sizes[0], 1, out, sizes[0])) return die("predict");
    for (int format = HERD_MODEL_UBJSON; format <= HERD_MODEL_JSON; format++) {
        void *buf = NULL;
        size_t len = 0;
        if (herd_model_save(model, format, &buf, &len)) return die("save");
        if (write_file(dir, format == HERD_MODEL_UBJSON ? "model.ubj" : "model.json", buf, len))
            return 1;
        herd_free(buf);
    }
    herd_frame *data = NULL;
    char path[4096];
    if (herd_frame_new(&data) ||
        herd_frame_add_column(data, "x0", HERD_TYPE_FLOAT64, d.x0, sizes[0], NULL) ||
        herd_frame_add_column(data, "x1", HERD_TYPE_FLOAT64, d.x1, sizes[0], NULL) ||
        herd_frame_add_column(data, "promo", HERD_TYPE_INT32, d.promo, sizes[0], NULL))
        return die("data frame");
    snprintf(path, sizeof path, "%s/data.csv", dir);
    if (herd_frame_write_csv(data, path, NULL)) return die("writing data.csv");
    if (herd_frame_new(&pred) ||
        herd_frame_add_column(pred, "prediction", HERD_TYPE_FLOAT64, out, sizes[0], NULL))
        return die("prediction frame");
    snprintf(path, sizeof path, "%s/herd_pred.csv", dir);
    if (herd_frame_write_csv(pred, path, NULL)) return die("writing herd_pred.csv");
    herd_frame_free(pred);
    herd_frame_free(data);
    free(out);
    herd_model_free(model);
    herd_fit_result_free(set);
    herd_groups_free(groups);
    herd_frame_free(frame);
    fit_data_free(&d);
    return 0;
}
