/* demo.c -- the job `make demo` runs.
 *
 * It generates weekly sales of products (the shape of the motivating case:
 * one row per product and week, a few features, a demand label), writes them
 * as CSV, reads the CSV back into a frame, partitions it by product, trains
 * one XGBoost model per product in parallel (validated on each product's
 * latest weeks, with early stopping), predicts every row with its product's
 * model and prints a per-group summary.  Then it registers every trained
 * model as a new version in the embedded registry (./herd-registry by
 * default), in one atomic batch, as the "challenger" of its product.
 *
 * usage: herd-demo [DIR [REGISTRY]]
 *        (defaults: ./herd-demo, created if missing; ./herd-registry)
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <herd.h>

#define PRODUCTS 400
#define MIN_WEEKS 30
#define MAX_WEEKS 156

static int fail(const char *what)
{
    fprintf(stderr, "herd-demo: %s: %s (%s)\n", what, herd_last_error(),
            herd_status_str(herd_last_error_code()));
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A small deterministic generator, so every run writes the same data. */
static uint64_t rng_state = 42;
static double uniform(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

typedef struct sales {
    size_t n, cap;
    char **product;
    int64_t *week;
    double *price, *promo, *season, *demand;
} sales;

static int sales_push(sales *s, const char *product, int64_t week, double price, double promo,
                      double season, double demand)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        char **p = realloc(s->product, cap * sizeof *p);
        if (p) s->product = p;
        int64_t *w = realloc(s->week, cap * sizeof *w);
        if (w) s->week = w;
        double *cols[4] = {s->price, s->promo, s->season, s->demand};
        for (int i = 0; i < 4; i++) {
            double *c = realloc(cols[i], cap * sizeof *c);
            if (c) cols[i] = c;
        }
        s->price = cols[0], s->promo = cols[1], s->season = cols[2], s->demand = cols[3];
        if (!p || !w || !cols[0] || !cols[1] || !cols[2] || !cols[3]) return -1;
        s->cap = cap;
    }
    s->product[s->n] = strdup(product);
    if (!s->product[s->n]) return -1;
    s->week[s->n] = week;
    s->price[s->n] = price;
    s->promo[s->n] = promo;
    s->season[s->n] = season;
    s->demand[s->n] = demand;
    s->n++;
    return 0;
}

static void sales_free(sales *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->product[i]);
    free(s->product), free(s->week), free(s->price), free(s->promo), free(s->season);
    free(s->demand);
}

/* Products have different histories (new products have fewer weeks), a base
 * level, a price elasticity and a yearly season. */
static int generate(sales *s)
{
    for (int p = 0; p < PRODUCTS; p++) {
        char name[32];
        snprintf(name, sizeof name, "sku_%04d", p);
        int weeks = MIN_WEEKS + (int)(uniform() * (MAX_WEEKS - MIN_WEEKS));
        double base = 20 + 80 * uniform(), elasticity = 0.5 + 1.5 * uniform();
        for (int w = 0; w < weeks; w++) {
            double price = 5 + 5 * uniform();
            double promo = uniform() < 0.15 ? 1 : 0;
            double season = sin(2 * M_PI * w / 52.0);
            double demand = base * (1 + 0.3 * season) * pow(price / 7.5, -elasticity) *
                            (1 + 0.5 * promo) * (0.9 + 0.2 * uniform());
            if (sales_push(s, name, w, price, promo, season, demand)) return -1;
        }
    }
    return 0;
}

static int build_frame(const sales *s, herd_frame **out)
{
    herd_frame *f = NULL;
    herd_column_options borrow;
    herd_column_options_init(&borrow);
    borrow.flags = HERD_COLUMN_BORROW; /* zero-copy: `s` outlives the frame */
    if (herd_frame_new(&f) ||
        herd_frame_add_column(f, "product", HERD_TYPE_STRING, s->product, s->n, &borrow) ||
        herd_frame_add_column(f, "week", HERD_TYPE_INT64, s->week, s->n, &borrow) ||
        herd_frame_add_column(f, "price", HERD_TYPE_FLOAT64, s->price, s->n, &borrow) ||
        herd_frame_add_column(f, "promo", HERD_TYPE_FLOAT64, s->promo, s->n, &borrow) ||
        herd_frame_add_column(f, "season", HERD_TYPE_FLOAT64, s->season, s->n, &borrow) ||
        herd_frame_add_column(f, "demand", HERD_TYPE_FLOAT64, s->demand, s->n, &borrow)) {
        herd_frame_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

static void print_groups(const herd_groups *g, const herd_frame *f, double read_s,
                         double group_s)
{
    size_t n = herd_groups_count(g), smallest = SIZE_MAX, largest = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = herd_groups_size(g, i);
        if (k < smallest) smallest = k;
        if (k > largest) largest = k;
    }
    printf("rows            %zu\n", herd_frame_nrows(f));
    printf("groups          %zu (by product), %zu to %zu rows each\n", n, smallest, largest);
    printf("read CSV        %.3f s\n", read_s);
    printf("group rows      %.3f s\n", group_s);
}

static const char *cell_str(const herd_frame *f, const char *col, size_t row)
{
    size_t c;
    const char *s = NULL;
    if (herd_frame_find(f, col, &c) == HERD_OK) herd_frame_get_string(f, c, row, &s);
    return s ? s : "";
}

static double cell_num(const herd_frame *f, const char *col, size_t row)
{
    size_t c;
    double v = NAN;
    if (herd_frame_find(f, col, &c) == HERD_OK) herd_frame_get_double(f, c, row, &v);
    return v;
}

/* Counts per status, then the first groups and the worst fitted one. */
static void print_fit(const herd_frame *rep, double fit_s)
{
    size_t n = herd_frame_nrows(rep), ok = 0, skipped = 0, failed = 0, worst = 0;
    double sum = 0, worst_v = -1;
    for (size_t i = 0; i < n; i++) {
        const char *st = cell_str(rep, "status", i);
        if (strcmp(st, "ok") == 0) {
            double v = cell_num(rep, "valid_metric", i);
            ok++;
            sum += v;
            if (v > worst_v) worst_v = v, worst = i;
        } else if (strcmp(st, "skipped") == 0) {
            skipped++;
        } else {
            failed++;
        }
    }
    printf("\ntrained         %zu models in %.2f s (%.0f models/s), %zu skipped, %zu failed\n",
           ok, fit_s, fit_s > 0 ? (double)ok / fit_s : 0.0, skipped, failed);
    printf("mean valid %s %.3f\n\n", cell_str(rep, "metric", 0), ok ? sum / (double)ok : NAN);
    printf("%-10s %6s %7s %7s %7s %-7s\n", "group", "rows", "status", "rmse", "rounds", "method");
    for (size_t i = 0; i < n && i < 5; i++)
        printf("%-10s %6.0f %7s %7.3f %7.0f %-7s\n", cell_str(rep, "group", i),
               cell_num(rep, "rows", i), cell_str(rep, "status", i),
               cell_num(rep, "valid_metric", i), cell_num(rep, "rounds", i),
               cell_str(rep, "tree_method", i));
    if (n > 5) printf("... %zu more\n", n - 5);
    if (ok)
        printf("worst fit: %s (rmse %.3f on %.0f validation rows)\n", cell_str(rep, "group", worst),
               worst_v, cell_num(rep, "valid_rows", worst));
}

/* Every trained model of the fit, as a version of family "demand", in one
 * batch: all of them or none, durable when the commit returns. */
static int register_models(const herd_model_set *set, const herd_frame *rep,
                           const char *registry)
{
    char run_id[64];
    snprintf(run_id, sizeof run_id, "demo-%lld", (long long)time(NULL));
    herd_registry *reg = NULL;
    herd_batch *b = NULL;
    herd_artifact *a = NULL;
    int rc = herd_registry_open(registry, NULL, &reg) ? fail("opening the registry")
             : herd_registry_begin(reg, &b)             ? fail("beginning a batch")
                                                        : 0;
    herd_artifact_options ao;
    herd_artifact_options_init(&ao);
    ao.family = "demand";
    ao.run_id = run_id;
    size_t added = 0;
    double t0 = now();
    for (size_t i = 0; !rc && i < herd_frame_nrows(rep); i++) {
        const char *group = cell_str(rep, "group", i);
        if (strcmp(cell_str(rep, "status", i), "ok") != 0) continue;
        char key[256];
        snprintf(key, sizeof key, "%s/%s", run_id, group); /* a retry adds nothing */
        herd_version_options vo;
        herd_version_options_init(&vo);
        vo.alias = "challenger";
        vo.idempotency_key = key;
        if (herd_model_set_artifact(set, group, &ao, &a)) rc = fail("packaging a model");
        else if (herd_batch_add(b, a, &vo, NULL)) rc = fail("adding a version");
        herd_artifact_free(a);
        a = NULL;
        added++;
    }
    char summary[128];
    snprintf(summary, sizeof summary, "{\"models\": %zu}", added);
    if (!rc && herd_batch_set_run(b, run_id, "{\"rounds\": 200, \"early_stopping\": 10}",
                                  summary))
        rc = fail("recording the run");
    if (!rc && herd_batch_commit(b)) rc = fail("committing");
    double commit_s = now() - t0;
    int64_t version = 0;
    if (!rc && added) herd_batch_version(b, 0, &version, NULL);
    herd_frame *fam = NULL;
    if (!rc && herd_registry_families(reg, &fam)) rc = fail("listing families");
    if (!rc) {
        printf("\nregistered      %zu versions in one commit (%.2f s, packaging included), "
               "run %s\n", added, commit_s, run_id);
        printf("registry        %s: %.0f versions of %.0f products in family 'demand'\n",
               herd_registry_path(reg), cell_num(fam, "versions", 0), cell_num(fam, "groups", 0));
        if (added)
            printf("first           herd:demand/%s/%lld (alias challenger)\n",
                   cell_str(rep, "group", 0), (long long)version);
    }
    herd_frame_free(fam);
    herd_batch_free(b);
    herd_registry_free(reg);
    return rc;
}

static int fit_and_predict(const herd_groups *g, const char *dir, const char *registry)
{
    const char *features[] = {"price", "promo", "season"};
    herd_fit_options fo;
    herd_fit_options_init(&fo);
    fo.features = features;
    fo.n_features = 3;
    fo.label = "demand";
    fo.rounds = 200;
    fo.early_stopping_rounds = 10;
    fo.split = HERD_SPLIT_LAST; /* validate on each product's latest weeks */
    fo.valid_order_by = "week";
    herd_model_set *set = NULL;
    herd_frame *rep = NULL, *pred = NULL;
    double t0 = now();
    int rc = herd_fit(g, &fo, NULL, &set);
    double fit_s = now() - t0;
    if (rc) return fail("training");
    if (herd_model_set_report(set, &rep)) {
        herd_model_set_free(set);
        return fail("reading the fit report");
    }
    print_fit(rep, fit_s);
    char path[4096];
    snprintf(path, sizeof path, "%s/fit_report.csv", dir);
    size_t without = 0;
    rc = herd_frame_write_csv(rep, path, NULL) ? fail("writing the report")
         : herd_predict(g, set, NULL, &pred, &without) ? fail("predicting")
                                                        : 0;
    if (!rc)
        printf("\npredicted %zu rows (%zu without a model); report in %s\n",
               herd_frame_nrows(pred), without, path);
    if (!rc) rc = register_models(set, rep, registry);
    herd_frame_free(pred);
    herd_frame_free(rep);
    herd_model_set_free(set);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "herd-demo";
    const char *registry = argc > 2 ? argv[2] : "herd-registry";
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "herd-demo: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char csv[4096];
    snprintf(csv, sizeof csv, "%s/sales.csv", dir);
    printf("herd %s: weekly sales demo\n\n", herd_version_string());

    sales s = {0};
    herd_frame *gen = NULL, *f = NULL;
    herd_groups *g = NULL;
    int rc = 1;
    if (generate(&s)) {
        fprintf(stderr, "herd-demo: out of memory generating data\n");
        goto done;
    }
    if (build_frame(&s, &gen)) { rc = fail("building the frame"); goto done; }
    if (herd_frame_write_csv(gen, csv, NULL)) { rc = fail("writing the CSV"); goto done; }
    printf("wrote %s\n", csv);

    double t0 = now();
    if (herd_frame_read_csv(csv, NULL, &f)) { rc = fail("reading the CSV"); goto done; }
    double t1 = now();
    const char *keys[] = {"product"};
    if (herd_groups_new(f, keys, 1, &g)) { rc = fail("grouping"); goto done; }
    double t2 = now();
    print_groups(g, f, t1 - t0, t2 - t1);
    rc = fit_and_predict(g, dir, registry);
done:
    herd_groups_free(g);
    herd_frame_free(f);
    herd_frame_free(gen);
    sales_free(&s);
    return rc;
}
